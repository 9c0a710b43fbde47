/**
 * ebs-default-encryption-disabled: EBS encryption by default was switched off in a region.
 *
 * Triggers: `DisableEbsEncryptionByDefault` (its request is the wrapped, empty
 * `DisableEbsEncryptionByDefaultRequest`; the response, when present, carries
 * `ebsEncryptionByDefault: false`). `EnableEbsEncryptionByDefault` is watched
 * too and is always compliant, so the replay shows who switched the setting
 * which way.
 *
 * Changes: `EnableEbsEncryptionByDefault` in the event's region; the undo is
 * `DisableEbsEncryptionByDefault`. `GetEbsEncryptionByDefault` is read just
 * before: already on again, nothing is written and the decision is "already
 * fixed" (a second delivery says so too); and just after: the fix counts only
 * when it reads on.
 * Never touches: existing volumes (the setting only affects new ones), the
 * default KMS key, other regions. An account setting carries no tags, so
 * there is no exemption by tag: use `ignorePrincipals` or mode `notify`.
 * Permissions: `ec2:EnableEbsEncryptionByDefault` (no resource-level
 * support: `*`); `ec2:GetEbsEncryptionByDefault` for the reads around it.
 */
import type { CloudTrailEvent } from '../../engine/event.js';
import type { Verdict } from '../../engine/types.js';
import { defineRule } from '../../rulekit/index.js';
import { disableEncryptionByDefault, enableEncryptionByDefault, encryptionByDefaultProbe, planEnableEncryptionByDefault } from './default-encryption.js';

const DISABLE = 'DisableEbsEncryptionByDefault';

function evaluate(event: CloudTrailEvent): Verdict {
  const region = event.detail.awsRegion;
  const resources = [`ebs-encryption-by-default:${event.account}:${region}`];
  if (event.detail.eventName !== DISABLE) {
    return { kind: 'compliant', summary: `EBS encryption by default was turned on in ${region}`, resources };
  }
  return {
    kind: 'violation',
    summary: `EBS encryption by default was turned off in ${region}`,
    resources,
    findings: [
      {
        code: 'ebs-default-encryption-disabled',
        severity: 'high',
        message: `EBS encryption by default was turned off in ${region}: volumes created from now on are unencrypted unless each request asks for encryption.`,
        subject: region,
      },
    ],
    plan: [
      planEnableEncryptionByDefault(
        region,
        `Turn EBS encryption by default back on in ${region}, so that every new volume is encrypted again. Existing volumes are not changed.`,
        'Turn encryption by default off again, as the event did.',
      ),
    ],
  };
}

export const ebsDefaultEncryptionDisabled = defineRule({
  id: 'ebs-default-encryption-disabled',
  title: 'EBS encryption by default turned off',
  severity: 'high',
  rationale:
    'With encryption by default off, every new volume and snapshot copy is unencrypted unless someone remembers to ask; turning it off is also a step attackers take before exfiltrating data.',
  triggers: [{ eventSource: 'ec2.amazonaws.com', eventNames: ['DisableEbsEncryptionByDefault', 'EnableEbsEncryptionByDefault'] }],
  actions: [enableEncryptionByDefault],
  // The undo, DisableEbsEncryptionByDefault: sendable by `remediate undo` through the family's command table, never granted.
  proposals: [disableEncryptionByDefault],
  probes: [encryptionByDefaultProbe],
  evaluate,
});
