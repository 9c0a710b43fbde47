/**
 * efs-unencrypted: an Amazon EFS file system created without encryption at
 * rest. `notify` by default.
 *
 * Triggers: `CreateFileSystem` (`elasticfilesystem.amazonaws.com`; EventBridge
 * source `aws.elasticfilesystem`).
 * Violation: `encrypted` false or absent. The response's `encrypted` is the
 * file system as created and decides when present; else the request's (the
 * API creates an encrypted file system only when `Encrypted` is true).
 * Changes: nothing, in any mode. EFS cannot turn encryption at rest on for an
 * existing file system; the finding says how to migrate: a new encrypted file
 * system, the data copied with AWS DataSync or through a mount of both, the
 * mounts switched to the new file system, the old one retired by a person.
 * Never touches: the file system and its data; no file system is deleted.
 * File systems whose request `Tags` carry the exemption tag.
 * Permissions: none.
 */
import type { CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason } from '../../engine/exemption.js';
import type { Facts, Finding, RuleContext, Verdict } from '../../engine/types.js';
import { accountOf, defineRule, field, partitionOf, tagsFromEvent, text } from '../../rulekit/index.js';

/** CloudTrail records EFS members in lowerCamelCase (`fileSystemId`, `tags: [{key, value}]`); an API-shaped record says `Encrypted`. */
function member(value: unknown, name: string): unknown {
  return field(value, name) ?? field(value, name.charAt(0).toUpperCase() + name.slice(1));
}

function flag(value: unknown): boolean | undefined {
  if (typeof value === 'boolean') return value;
  if (typeof value === 'string' && /^(true|false)$/i.test(value)) return value.toLowerCase() === 'true';
  return undefined;
}

export const MIGRATION_STEP =
  'EFS cannot encrypt an existing file system. Create a new file system with encryption at rest on (Encrypted true, and a KmsKeyId for a customer managed key); copy the data across with AWS DataSync (an EFS-to-EFS transfer) or by mounting both file systems on one instance and copying with ownership and permissions kept (rsync -a); switch every mount (mount targets and security groups, /etc/fstab, access points, ECS task definitions, EKS persistent volumes, Lambda file system configurations) to the new file system; then delete the old one yourself once nothing uses it. The bot deletes nothing.';

function evaluate(event: CloudTrailEvent, _facts: Facts, context: RuleContext): Verdict {
  const request = event.detail.requestParameters;
  const response = event.detail.responseElements;
  const id = text(member(response, 'fileSystemId'));
  const token = text(member(request, 'creationToken'));
  const label = id ?? (token ? `the file system with creation token ${token}` : undefined);
  if (!label) return { kind: 'skipped', reason: 'the event names no file system' };
  const arn = text(member(response, 'fileSystemArn')) ?? (id ? `arn:${partitionOf(event)}:elasticfilesystem:${event.detail.awsRegion}:${accountOf(event)}:file-system/${id}` : label);
  const resources = [arn];

  const created = flag(member(response, 'encrypted'));
  const requested = flag(member(request, 'encrypted'));
  const encrypted = created ?? requested ?? false;
  if (encrypted) {
    const key = text(member(response, 'kmsKeyId')) ?? text(member(request, 'kmsKeyId'));
    return { kind: 'compliant', summary: `${label} is encrypted at rest${key ? ` with ${key}` : ' with the AWS managed key aws/elasticfilesystem'}`, resources };
  }

  const how = created === false ? 'encrypted is false in the response' : requested === false ? 'Encrypted is false' : 'Encrypted was omitted: the API default is unencrypted';
  const findings: Finding[] = [
    {
      code: 'not-encrypted-at-rest',
      severity: 'medium',
      message: `${label} was created without encryption at rest (${how}): its files, and the backups taken of it, are stored unencrypted. ${MIGRATION_STEP}`,
      subject: 'Encrypted',
    },
  ];
  const tags = tagsFromEvent(member(request, 'tags') ?? member(response, 'tags'));
  const exempt = exemptionReason(tags, context.config);
  if (exempt) return { kind: 'exempt', reason: `${label} is ${exempt}`, resources, findings };
  return { kind: 'violation', summary: `${label} created without encryption at rest; migrate it to an encrypted file system`, resources, findings, plan: [] };
}

export const efsUnencrypted = defineRule({
  id: 'efs-unencrypted',
  title: 'EFS file system created without encryption at rest',
  severity: 'medium',
  rationale:
    'EFS file systems hold shared training data, features and home directories. Unencrypted, their data is outside every KMS key policy, and encryption cannot be added later: each day the file system lives, the migration grows.',
  defaultMode: 'notify',
  triggers: [{ eventSource: 'elasticfilesystem.amazonaws.com', eventNames: ['CreateFileSystem'] }],
  evaluate,
});
