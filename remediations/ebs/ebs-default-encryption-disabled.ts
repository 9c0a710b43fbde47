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
 * `DisableEbsEncryptionByDefault`. A `GetEbsEncryptionByDefault` lookup that
 * shows it already on makes the step "already done" (a second delivery
 * reports "already fixed").
 * Never touches: existing volumes (the setting only affects new ones), the
 * default KMS key, other regions. An account setting carries no tags, so
 * there is no exemption by tag: use `ignorePrincipals` or mode `notify`.
 * Permissions: `ec2:EnableEbsEncryptionByDefault` (no resource-level
 * support: `*`); lookup `ec2:GetEbsEncryptionByDefault`.
 */
import { field, type CloudTrailEvent } from '../../engine/event.js';
import type { Facts, Lookup, Plan, Rule, RuleContext, Verdict } from '../../engine/types.js';

const DISABLE = 'DisableEbsEncryptionByDefault';

const encryptionByDefaultLookup: Lookup = {
  name: 'ebsEncryptionByDefault',
  service: 'ec2',
  operation: 'GetEbsEncryptionByDefault',
  permission: 'ec2:GetEbsEncryptionByDefault',
  input: (event) => (event.detail.eventName === DISABLE ? {} : undefined),
  select: (output) => {
    const enabled = field(output, 'EbsEncryptionByDefault');
    return typeof enabled === 'boolean' ? enabled : null;
  },
};

export function planEnableEncryptionByDefault(region: string, facts: Facts): Plan {
  const fact = facts['ebsEncryptionByDefault'];
  return [
    {
      service: 'ec2',
      operation: 'EnableEbsEncryptionByDefault',
      input: {},
      reason: `Turn EBS encryption by default back on in ${region}, so that every new volume is encrypted again. Existing volumes are not changed.`,
      undo: { service: 'ec2', operation: 'DisableEbsEncryptionByDefault', input: {}, reason: 'Turn encryption by default off again, as the event did.' },
      ...(fact?.status === 'ok' && fact.value === true ? { alreadyDone: 'GetEbsEncryptionByDefault says encryption by default is already on' } : {}),
    },
  ];
}

function evaluate(event: CloudTrailEvent, facts: Facts, _context: RuleContext): Verdict {
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
    plan: planEnableEncryptionByDefault(region, facts),
  };
}

export const ebsDefaultEncryptionDisabled = {
  id: 'ebs-default-encryption-disabled',
  title: 'EBS encryption by default turned off',
  severity: 'high',
  rationale:
    'With encryption by default off, every new volume and snapshot copy is unencrypted unless someone remembers to ask; turning it off is also a step attackers take before exfiltrating data.',
  family: 'ebs',
  triggers: [{ eventSource: 'ec2.amazonaws.com', eventNames: ['DisableEbsEncryptionByDefault', 'EnableEbsEncryptionByDefault'] }],
  permissions: [{ action: 'ec2:EnableEbsEncryptionByDefault', resource: '*' }],
  lookups: [encryptionByDefaultLookup],
  docs: {
    changes: 'Turns EBS encryption by default back on in the region of the event (EnableEbsEncryptionByDefault); the undo is DisableEbsEncryptionByDefault.',
    neverTouches: 'Existing volumes and snapshots (the setting affects new volumes only), the default KMS key, and other regions.',
  },
  evaluate,
} as const satisfies Rule;
