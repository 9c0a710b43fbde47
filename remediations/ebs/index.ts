/** The ebs family (encryption at rest and sharing of volumes, snapshots and AMIs): one Lambda function holds these rules and only their permissions. */
import { defineFamily } from '../../rulekit/define.js';
import { amiPublic } from './ami-public.js';
import { amiSharedUntrustedAccount } from './ami-shared-untrusted-account.js';
import { ebsDefaultEncryptionDisabled } from './ebs-default-encryption-disabled.js';
import { ebsPublicSnapshot } from './ebs-public-snapshot.js';
import { ebsSnapshotSharedUntrustedAccount } from './ebs-snapshot-shared-untrusted-account.js';
import { ebsUnencryptedVolume } from './ebs-unencrypted-volume.js';

export const ebsFamily = defineFamily({
  name: 'ebs',
  rules: [ebsUnencryptedVolume, ebsDefaultEncryptionDisabled, ebsPublicSnapshot, ebsSnapshotSharedUntrustedAccount, amiPublic, amiSharedUntrustedAccount],
});

/** The family's rules, as the registry and the deployment see them. */
export const ebsRules = ebsFamily.rules;
