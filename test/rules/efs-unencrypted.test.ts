import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.js';
import { decide, offlineFacts } from '../../engine/decide.js';
import type { CloudTrailEvent } from '../../engine/event.js';
import { patternForRule } from '../../engine/patterns.js';
import { efsRules } from '../../remediations/efs/index.js';
import { MIGRATION_STEP } from '../../remediations/efs/efs-unencrypted.js';
import { loadEvent } from '../helpers/fixtures.js';
import { registeredRule } from '../helpers/registered.js';
import { ruleEvaluator } from '../helpers/rule-harness.js';

const efsUnencrypted = registeredRule('efs-unencrypted');
const evaluate = ruleEvaluator('efs-unencrypted');
const NOW = new Date('2025-03-14T14:00:00Z');
const ACCOUNT = '111122223333';
const FS = 'fs-0a1b2c3d4e5f67890';
const FS_ARN = `arn:aws:elasticfilesystem:us-east-1:${ACCOUNT}:file-system/${FS}`;

const request = (event: CloudTrailEvent) => event.detail.requestParameters as Record<string, unknown>;
const response = (event: CloudTrailEvent) => event.detail.responseElements as Record<string, unknown>;

const finding = (label: string, how: string) => ({
  code: 'not-encrypted-at-rest',
  severity: 'medium',
  message: `${label} was created without encryption at rest (${how}): its files, and the backups taken of it, are stored unencrypted. ${MIGRATION_STEP}`,
  subject: 'Encrypted',
});

describe('efs-unencrypted', () => {
  it('is routed by EventBridge source aws.elasticfilesystem, the source EFS CloudTrail events arrive with', () => {
    expect(patternForRule(efsUnencrypted)).toStrictEqual({
      source: ['aws.elasticfilesystem'],
      'detail-type': ['AWS API Call via CloudTrail'],
      detail: { eventSource: ['elasticfilesystem.amazonaws.com'], eventName: ['CreateFileSystem'] },
    });
  });

  it('says how to migrate: encryption cannot be turned on later', () => {
    expect(MIGRATION_STEP).toBe(
      'EFS cannot encrypt an existing file system. Create a new file system with encryption at rest on (Encrypted true, and a KmsKeyId for a customer managed key); copy the data across with AWS DataSync (an EFS-to-EFS transfer) or by mounting both file systems on one instance and copying with ownership and permissions kept (rsync -a); switch every mount (mount targets and security groups, /etc/fstab, access points, ECS task definitions, EKS persistent volumes, Lambda file system configurations) to the new file system; then delete the old one yourself once nothing uses it. The bot deletes nothing.',
    );
  });

  describe('evaluate', () => {
    it('flags a file system the response shows unencrypted, and plans nothing', () => {
      // Arrange
      const event = loadEvent('efs/CreateFileSystem-unencrypted.json');
      // Act
      const verdict = evaluate(event);
      // Assert
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: `${FS} created without encryption at rest; migrate it to an encrypted file system`,
        resources: [FS_ARN],
        findings: [finding(FS, 'encrypted is false in the response')],
        plan: [],
      });
    });

    it('reads the request when the response says nothing: an omitted Encrypted is the unencrypted default', () => {
      const event = loadEvent('efs/CreateFileSystem-unencrypted.json');
      delete response(event)['encrypted'];
      expect(evaluate(event)).toMatchObject({ kind: 'violation', findings: [finding(FS, 'Encrypted was omitted: the API default is unencrypted')] });
      request(event)['encrypted'] = false;
      expect(evaluate(event)).toMatchObject({ kind: 'violation', findings: [finding(FS, 'Encrypted is false')] });
    });

    it('believes the response over the request', () => {
      const event = loadEvent('efs/CreateFileSystem-unencrypted.json');
      request(event)['encrypted'] = true;
      expect(evaluate(event).kind).toBe('violation');
    });

    it('passes a file system encrypted with a customer managed key, naming the key', () => {
      expect(evaluate(loadEvent('efs/CreateFileSystem-encrypted-kms-compliant.json'))).toStrictEqual({
        kind: 'compliant',
        summary: `fs-0f9e8d7c6b5a43210 is encrypted at rest with arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
        resources: [`arn:aws:elasticfilesystem:us-east-1:${ACCOUNT}:file-system/fs-0f9e8d7c6b5a43210`],
      });
    });

    it('passes a file system encrypted with the AWS managed key', () => {
      const event = loadEvent('efs/CreateFileSystem-encrypted-kms-compliant.json');
      delete request(event)['kmsKeyId'];
      delete response(event)['kmsKeyId'];
      expect(evaluate(event)).toMatchObject({ kind: 'compliant', summary: 'fs-0f9e8d7c6b5a43210 is encrypted at rest with the AWS managed key aws/elasticfilesystem' });
    });

    it('reads an API-shaped record (Encrypted, FileSystemId) too', () => {
      const event = loadEvent('efs/CreateFileSystem-unencrypted.json');
      event.detail.requestParameters = { CreationToken: 'training-scratch-20250314', Encrypted: true };
      event.detail.responseElements = { FileSystemId: FS, Encrypted: true };
      expect(evaluate(event)).toStrictEqual({ kind: 'compliant', summary: `${FS} is encrypted at rest with the AWS managed key aws/elasticfilesystem`, resources: [FS_ARN] });
    });

    it('exempts a file system whose request tags carry the exemption tag, keeping the finding', () => {
      const event = loadEvent('efs/CreateFileSystem-unencrypted.json');
      request(event)['tags'] = [{ key: 'remediation:exempt', value: 'scratch space, public data only' }];
      const verdict = evaluate(event);
      expect(verdict).toMatchObject({ kind: 'exempt', reason: `${FS} is tagged remediation:exempt: scratch space, public data only`, resources: [FS_ARN] });
      expect(verdict.kind === 'exempt' && verdict.findings?.map((f) => f.code)).toStrictEqual(['not-encrypted-at-rest']);
    });

    it('ignores the exemption tag when the config turns tag exemptions off', () => {
      const event = loadEvent('efs/CreateFileSystem-unencrypted.json');
      request(event)['tags'] = [{ key: 'remediation:exempt', value: 'scratch' }];
      expect(evaluate(event, { config: { exemptionTags: false } }).kind).toBe('violation');
    });

    it('names the file system by its creation token, and builds no ARN, when the response is missing', () => {
      const event = loadEvent('efs/CreateFileSystem-unencrypted.json');
      event.detail.responseElements = null;
      const label = 'the file system with creation token training-scratch-20250314';
      expect(evaluate(event)).toMatchObject({ kind: 'violation', resources: [label], findings: [finding(label, 'Encrypted was omitted: the API default is unencrypted')] });
    });

    it('builds the ARN from the id, partition and account when the response has no ARN', () => {
      const event = loadEvent('efs/CreateFileSystem-unencrypted.json');
      delete response(event)['fileSystemArn'];
      expect(evaluate(event).resources).toStrictEqual([FS_ARN]);
    });

    it('skips an event that names no file system', () => {
      const event = loadEvent('efs/CreateFileSystem-unencrypted.json');
      event.detail.requestParameters = {};
      event.detail.responseElements = null;
      expect(evaluate(event)).toStrictEqual({ kind: 'skipped', reason: 'the event names no file system' });
    });
  });

  describe('through the engine', () => {
    const config = parseConfig({}, efsRules);

    it('notifies by default, with no lookup and no permission', async () => {
      const decision = await decide(loadEvent('efs/CreateFileSystem-unencrypted.json'), efsUnencrypted, { config, env: {}, facts: offlineFacts, now: NOW });
      expect(decision.mode).toBe('notify');
      expect(decision.verdict.kind).toBe('violation');
      expect(decision.unavailableFacts).toStrictEqual([]);
      expect(efsUnencrypted.permissions).toStrictEqual([]);
    });

    it('skips a failed call before the rule runs', async () => {
      const decision = await decide(loadEvent('efs/CreateFileSystem-failed-already-exists.json'), efsUnencrypted, { config, env: {}, facts: offlineFacts, now: NOW });
      expect(decision.verdict).toStrictEqual({ kind: 'skipped', reason: 'the call failed (FileSystemAlreadyExists), so it changed nothing', cause: 'failed-call' });
    });
  });
});
