/**
 * Every step as the AWS CLI command a person pastes (`awsCliCommand`): the
 * right command for every operation a rule can plan, propose, wait on or undo
 * (from the registry, so a new operation fails here until its command is
 * checked), exact commands per service, bash quoting proved by bash itself,
 * and placeholders that never leave a runnable command.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { awsCliCommand, cliName, shellWord } from '../engine/step-text.js';
import { stepOutput, unknownValue, type PlanStep, type UndoStep } from '../engine/types.js';
import { UNDO_OPERATIONS } from '../engine/undo-inverses.js';
import { families } from '../remediations/registry.js';

/**
 * The AWS CLI command of each operation, checked against the AWS CLI reference
 * (docs.aws.amazon.com/cli/latest/reference/<service>/<command>) and botocore's
 * service models. A new operation in a rule fails the test below until it is added here.
 */
const CLI_HEADS: Readonly<Record<string, string>> = {
  'cloudtrail:CreateTrail': 'aws cloudtrail create-trail',
  'cloudtrail:DeleteTrail': 'aws cloudtrail delete-trail',
  'cloudtrail:GetEventSelectors': 'aws cloudtrail get-event-selectors',
  'cloudtrail:GetTrail': 'aws cloudtrail get-trail',
  'cloudtrail:GetTrailStatus': 'aws cloudtrail get-trail-status',
  'cloudtrail:ListTags': 'aws cloudtrail list-tags',
  'cloudtrail:LookupEvents': 'aws cloudtrail lookup-events',
  'cloudtrail:PutEventSelectors': 'aws cloudtrail put-event-selectors',
  'cloudtrail:StartLogging': 'aws cloudtrail start-logging',
  'cloudtrail:StopLogging': 'aws cloudtrail stop-logging',
  'cloudtrail:UpdateTrail': 'aws cloudtrail update-trail',
  'configservice:DescribeConfigurationRecorderStatus': 'aws configservice describe-configuration-recorder-status',
  'configservice:StartConfigurationRecorder': 'aws configservice start-configuration-recorder',
  'configservice:StopConfigurationRecorder': 'aws configservice stop-configuration-recorder',
  'ec2:AssociateIamInstanceProfile': 'aws ec2 associate-iam-instance-profile',
  'ec2:AttachVolume': 'aws ec2 attach-volume',
  'ec2:AuthorizeSecurityGroupIngress': 'aws ec2 authorize-security-group-ingress',
  'ec2:CopySnapshot': 'aws ec2 copy-snapshot',
  'ec2:CreateSnapshot': 'aws ec2 create-snapshot',
  'ec2:CreateTags': 'aws ec2 create-tags',
  'ec2:CreateVolume': 'aws ec2 create-volume',
  'ec2:DeleteTags': 'aws ec2 delete-tags',
  'ec2:DescribeImageAttribute': 'aws ec2 describe-image-attribute',
  'ec2:DescribeImages': 'aws ec2 describe-images',
  'ec2:DescribeIamInstanceProfileAssociations': 'aws ec2 describe-iam-instance-profile-associations',
  'ec2:DescribeInstances': 'aws ec2 describe-instances',
  'ec2:DisassociateIamInstanceProfile': 'aws ec2 disassociate-iam-instance-profile',
  'ec2:DescribeSecurityGroupRules': 'aws ec2 describe-security-group-rules',
  'ec2:CreateNetworkAclEntry': 'aws ec2 create-network-acl-entry',
  'ec2:DeleteNetworkAclEntry': 'aws ec2 delete-network-acl-entry',
  'ec2:DescribeNetworkAcls': 'aws ec2 describe-network-acls',
  'ec2:DescribeSecurityGroups': 'aws ec2 describe-security-groups',
  'ec2:DescribeSnapshotAttribute': 'aws ec2 describe-snapshot-attribute',
  'ec2:DescribeSnapshots': 'aws ec2 describe-snapshots',
  'ec2:DescribeVolumes': 'aws ec2 describe-volumes',
  'ec2:DetachVolume': 'aws ec2 detach-volume',
  'ec2:DisableEbsEncryptionByDefault': 'aws ec2 disable-ebs-encryption-by-default',
  'ec2:EnableEbsEncryptionByDefault': 'aws ec2 enable-ebs-encryption-by-default',
  'ec2:GetEbsDefaultKmsKeyId': 'aws ec2 get-ebs-default-kms-key-id',
  'ec2:GetEbsEncryptionByDefault': 'aws ec2 get-ebs-encryption-by-default',
  'ec2:ModifyEbsDefaultKmsKeyId': 'aws ec2 modify-ebs-default-kms-key-id',
  'ec2:ModifyImageAttribute': 'aws ec2 modify-image-attribute',
  'ec2:ModifyInstanceMetadataOptions': 'aws ec2 modify-instance-metadata-options',
  'ec2:ModifySnapshotAttribute': 'aws ec2 modify-snapshot-attribute',
  'ec2:ResetEbsDefaultKmsKeyId': 'aws ec2 reset-ebs-default-kms-key-id',
  'ec2:RevokeSecurityGroupIngress': 'aws ec2 revoke-security-group-ingress',
  'ec2:StartInstances': 'aws ec2 start-instances',
  'ec2:StopInstances': 'aws ec2 stop-instances',
  'ec2:waitUntilInstanceStopped': 'aws ec2 wait instance-stopped',
  'ec2:waitUntilSnapshotCompleted': 'aws ec2 wait snapshot-completed',
  'ec2:waitUntilVolumeAvailable': 'aws ec2 wait volume-available',
  'guardduty:GetDetector': 'aws guardduty get-detector',
  'guardduty:UpdateDetector': 'aws guardduty update-detector',
  'iam:AttachGroupPolicy': 'aws iam attach-group-policy',
  'iam:GetInstanceProfile': 'aws iam get-instance-profile',
  'iam:ListRolePolicies': 'aws iam list-role-policies',
  'iam:AttachRolePolicy': 'aws iam attach-role-policy',
  'iam:AttachUserPolicy': 'aws iam attach-user-policy',
  'iam:DeleteGroupPolicy': 'aws iam delete-group-policy',
  'iam:DeleteRolePolicy': 'aws iam delete-role-policy',
  'iam:DeleteUserPolicy': 'aws iam delete-user-policy',
  'iam:DetachGroupPolicy': 'aws iam detach-group-policy',
  'iam:DetachRolePolicy': 'aws iam detach-role-policy',
  'iam:DetachUserPolicy': 'aws iam detach-user-policy',
  'iam:GetAccountSummary': 'aws iam get-account-summary',
  'iam:GetGroupPolicy': 'aws iam get-group-policy',
  'iam:GetLoginProfile': 'aws iam get-login-profile',
  'iam:GetPolicy': 'aws iam get-policy',
  'iam:GetPolicyVersion': 'aws iam get-policy-version',
  'iam:GetRole': 'aws iam get-role',
  'iam:GetRolePolicy': 'aws iam get-role-policy',
  'iam:GetUser': 'aws iam get-user',
  'iam:GetUserPolicy': 'aws iam get-user-policy',
  'iam:ListAccessKeys': 'aws iam list-access-keys',
  'iam:ListAttachedGroupPolicies': 'aws iam list-attached-group-policies',
  'iam:ListAttachedRolePolicies': 'aws iam list-attached-role-policies',
  'iam:ListAttachedUserPolicies': 'aws iam list-attached-user-policies',
  'iam:ListEntitiesForPolicy': 'aws iam list-entities-for-policy',
  'iam:ListMFADevices': 'aws iam list-mfa-devices',
  'iam:ListPolicyVersions': 'aws iam list-policy-versions',
  'iam:PutGroupPolicy': 'aws iam put-group-policy',
  'iam:PutRolePolicy': 'aws iam put-role-policy',
  'iam:PutUserPolicy': 'aws iam put-user-policy',
  'iam:SetDefaultPolicyVersion': 'aws iam set-default-policy-version',
  'iam:UpdateAccessKey': 'aws iam update-access-key',
  'iam:UpdateAssumeRolePolicy': 'aws iam update-assume-role-policy',
  'kms:CancelKeyDeletion': 'aws kms cancel-key-deletion',
  'kms:DescribeKey': 'aws kms describe-key',
  'kms:DisableKey': 'aws kms disable-key',
  'kms:DisableKeyRotation': 'aws kms disable-key-rotation',
  'kms:EnableKey': 'aws kms enable-key',
  'kms:EnableKeyRotation': 'aws kms enable-key-rotation',
  'kms:GetKeyPolicy': 'aws kms get-key-policy',
  'kms:GetKeyRotationStatus': 'aws kms get-key-rotation-status',
  'kms:ListAliases': 'aws kms list-aliases',
  'kms:ListResourceTags': 'aws kms list-resource-tags',
  'kms:PutKeyPolicy': 'aws kms put-key-policy',
  'kms:ScheduleKeyDeletion': 'aws kms schedule-key-deletion',
  's3:DeleteBucketPolicy': 'aws s3api delete-bucket-policy',
  's3:DeletePublicAccessBlock': 'aws s3api delete-public-access-block',
  's3:GetBucketAcl': 'aws s3api get-bucket-acl',
  's3:GetBucketEncryption': 'aws s3api get-bucket-encryption',
  's3:PutBucketEncryption': 'aws s3api put-bucket-encryption',
  's3:GetBucketPolicy': 'aws s3api get-bucket-policy',
  's3:GetBucketTagging': 'aws s3api get-bucket-tagging',
  's3:GetPublicAccessBlock': 'aws s3api get-public-access-block',
  's3:PutBucketAcl': 'aws s3api put-bucket-acl',
  's3:PutBucketPolicy': 'aws s3api put-bucket-policy',
  's3:PutPublicAccessBlock': 'aws s3api put-public-access-block',
  's3control:DeletePublicAccessBlock': 'aws s3control delete-public-access-block',
  's3control:GetPublicAccessBlock': 'aws s3control get-public-access-block',
  's3control:PutPublicAccessBlock': 'aws s3control put-public-access-block',
  'sagemaker:CreateEndpointConfig': 'aws sagemaker create-endpoint-config',
  'sagemaker:DeleteEndpointConfig': 'aws sagemaker delete-endpoint-config',
  'sagemaker:DescribeEndpoint': 'aws sagemaker describe-endpoint',
  'sagemaker:DescribeEndpointConfig': 'aws sagemaker describe-endpoint-config',
  'sagemaker:DescribeHyperParameterTuningJob': 'aws sagemaker describe-hyper-parameter-tuning-job',
  'sagemaker:DescribeNotebookInstance': 'aws sagemaker describe-notebook-instance',
  'sagemaker:DescribeProcessingJob': 'aws sagemaker describe-processing-job',
  'sagemaker:DescribeTrainingJob': 'aws sagemaker describe-training-job',
  'sagemaker:ListTags': 'aws sagemaker list-tags',
  'sagemaker:StartNotebookInstance': 'aws sagemaker start-notebook-instance',
  'sagemaker:StopHyperParameterTuningJob': 'aws sagemaker stop-hyper-parameter-tuning-job',
  'sagemaker:StopNotebookInstance': 'aws sagemaker stop-notebook-instance',
  'sagemaker:StopProcessingJob': 'aws sagemaker stop-processing-job',
  'sagemaker:StopTrainingJob': 'aws sagemaker stop-training-job',
  'sagemaker:UpdateEndpoint': 'aws sagemaker update-endpoint',
  'sagemaker:UpdateNotebookInstance': 'aws sagemaker update-notebook-instance',
  'sagemaker:waitUntilNotebookInstanceStopped': 'aws sagemaker wait notebook-instance-stopped',
};

/** Every operation a rule can send (its writes, proposals, reads and waits) or undo, from the registry. */
function registeredOperations(): string[] {
  const operations = new Set<string>(UNDO_OPERATIONS);
  for (const family of families) {
    for (const key of Object.keys(family.commands.commands)) operations.add(key);
    for (const key of Object.keys(family.commands.waiters ?? {})) operations.add(key);
  }
  return [...operations].sort();
}

function stepOf(key: string, input: Readonly<Record<string, unknown>> = {}): PlanStep {
  const [service, operation] = key.split(':') as [PlanStep['service'], string];
  return { service, operation, input, reason: 'r', ...(operation.startsWith('waitUntil') ? { kind: 'wait' as const } : {}) };
}

/** Every plan, proposal and undo step of the golden replay: each rule on each recorded event. */
function replaySteps(): { readonly step: PlanStep | UndoStep; readonly region: string }[] {
  const lines = readFileSync(join(import.meta.dirname, 'expected', 'replay.jsonl'), 'utf8').split('\n').filter((line) => line.length > 0);
  return lines.flatMap((line) => {
    const decision = JSON.parse(line) as { region: string; plan?: PlanStep[]; proposal?: PlanStep[] };
    const steps = [...(decision.plan ?? []), ...(decision.proposal ?? [])];
    return [...steps, ...steps.flatMap((step) => (step.undo ? [step.undo] : []))].map((step) => ({ step, region: decision.region }));
  });
}

const RECORD = '\u001e';

/** Runs `script` in bash with `aws` as a function that prints its arguments: what bash would hand the AWS CLI. */
function argvFromBash(script: string): string[][] {
  const run = spawnSync('bash', ['-c', `aws() { printf '%s\\0' "$@"; printf '${RECORD}'; }\n${script}`], { encoding: 'utf8' });
  expect(run.stderr).toBe('');
  expect(run.status).toBe(0);
  return run.stdout
    .split(RECORD)
    .slice(0, -1)
    .map((record) => record.split('\0').slice(0, -1));
}

/** False booleans the AWS CLI spells as another flag (its `ec2 create-network-acl-entry` synopsis: `--egress | --ingress`). */
const NEGATED_FLAGS: Readonly<Record<string, string>> = { '--no-egress': '--ingress' };

/** The arguments the command must give the CLI: the head, `--region`, then each member as its option. */
function expectedArgv(step: PlanStep | UndoStep, region: string): string[] {
  const head = (CLI_HEADS[`${step.service}:${step.operation}`] ?? '').split(' ').slice(1);
  const options = Object.entries(step.input).flatMap(([member, value]) => {
    const name = `--${cliName(member)}`;
    if (typeof value === 'boolean') return [value ? name : (NEGATED_FLAGS[`--no-${cliName(member)}`] ?? `--no-${cliName(member)}`)];
    const text = typeof value === 'string' ? value : typeof value === 'number' ? String(value) : JSON.stringify(value);
    return text.startsWith('-') ? [`${name}=${text}`] : [name, text];
  });
  return [...head, '--region', region, ...options];
}

const temp = mkdtempSync(join(tmpdir(), 'step-cli-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

describe('awsCliCommand', () => {
  describe('every operation a rule can plan, propose, wait on or undo', () => {
    it('has its checked AWS CLI command in this test', () => {
      expect(registeredOperations().filter((key) => CLI_HEADS[key] === undefined)).toStrictEqual([]);
    });

    it.each(registeredOperations())('%s: the right command and --region', (key) => {
      expect(awsCliCommand(stepOf(key), 'eu-west-3')).toBe(`${CLI_HEADS[key]} --region eu-west-3`);
    });
  });

  describe('one exact command per service', () => {
    it('ec2: scalars as options, lists and structures as JSON', () => {
      const step = stepOf('ec2:RevokeSecurityGroupIngress', {
        GroupId: 'sg-0a1b2c3d4e5f67890',
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, Ipv6Ranges: [{ CidrIpv6: '::/0' }] }],
      });
      expect(awsCliCommand(step, 'us-east-1')).toBe(
        `aws ec2 revoke-security-group-ingress --region us-east-1 --group-id sg-0a1b2c3d4e5f67890 --ip-permissions '[{"IpProtocol":"tcp","FromPort":22,"ToPort":22,"Ipv6Ranges":[{"CidrIpv6":"::/0"}]}]'`,
      );
    });

    it('ec2: booleans as --flag and --no-flag, numbers bare', () => {
      const step = stepOf('ec2:CreateVolume', { AvailabilityZone: 'us-east-1b', SnapshotId: 'snap-1', Size: 500, Encrypted: true, MultiAttachEnabled: false });
      expect(awsCliCommand(step, 'us-east-1')).toBe(
        'aws ec2 create-volume --region us-east-1 --availability-zone us-east-1b --snapshot-id snap-1 --size 500 --encrypted --no-multi-attach-enabled',
      );
    });

    it('iam: a policy document with a quote stays one bash word', () => {
      const step = stepOf('iam:PutRolePolicy', { RoleName: 'app', PolicyName: 'p', PolicyDocument: `{"Statement":[{"Sid":"it's","Effect":"Allow","Action":"s3:*","Resource":"*"}]}` });
      expect(awsCliCommand(step, 'us-east-1')).toBe(
        `aws iam put-role-policy --region us-east-1 --role-name app --policy-name p --policy-document '{"Statement":[{"Sid":"it'\\''s","Effect":"Allow","Action":"s3:*","Resource":"*"}]}'`,
      );
    });

    it('s3: `aws s3api`, with the ACL members named as the CLI names them', () => {
      const step = stepOf('s3:PutBucketAcl', { Bucket: 'amzn-s3-demo-bucket', ExpectedBucketOwner: '111122223333', ACL: 'private', GrantReadACP: 'id=abc' });
      expect(awsCliCommand(step, 'eu-west-1')).toBe(
        'aws s3api put-bucket-acl --region eu-west-1 --bucket amzn-s3-demo-bucket --expected-bucket-owner 111122223333 --acl private --grant-read-acp id=abc',
      );
    });

    it('s3control: `aws s3control`', () => {
      const step = stepOf('s3control:PutPublicAccessBlock', {
        AccountId: '111122223333',
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true },
      });
      expect(awsCliCommand(step, 'us-east-1')).toBe(
        `aws s3control put-public-access-block --region us-east-1 --account-id 111122223333 --public-access-block-configuration '{"BlockPublicAcls":true,"IgnorePublicAcls":true,"BlockPublicPolicy":true,"RestrictPublicBuckets":true}'`,
      );
    });

    it('kms', () => {
      const step = stepOf('kms:ScheduleKeyDeletion', { KeyId: '1234abcd-12ab-34cd-56ef-1234567890ab', PendingWindowInDays: 30 });
      expect(awsCliCommand(step, 'ap-southeast-2')).toBe('aws kms schedule-key-deletion --region ap-southeast-2 --key-id 1234abcd-12ab-34cd-56ef-1234567890ab --pending-window-in-days 30');
    });

    it('cloudtrail: a setting turned off is --no-<setting>', () => {
      const step = stepOf('cloudtrail:UpdateTrail', { Name: 'org-audit', IsMultiRegionTrail: false, EnableLogFileValidation: false });
      expect(awsCliCommand(step, 'us-east-1')).toBe('aws cloudtrail update-trail --region us-east-1 --name org-audit --no-is-multi-region-trail --no-enable-log-file-validation');
    });

    it('sagemaker', () => {
      const step = stepOf('sagemaker:UpdateNotebookInstance', { NotebookInstanceName: 'Churn-Exploration', RootAccess: 'Disabled' });
      expect(awsCliCommand(step, 'us-east-1')).toBe('aws sagemaker update-notebook-instance --region us-east-1 --notebook-instance-name Churn-Exploration --root-access Disabled');
    });

    it('a wait step is its `aws <service> wait` command', () => {
      const step = stepOf('sagemaker:waitUntilNotebookInstanceStopped', { NotebookInstanceName: 'Churn-Exploration' });
      expect(awsCliCommand(step, 'us-east-1')).toBe('aws sagemaker wait notebook-instance-stopped --region us-east-1 --notebook-instance-name Churn-Exploration');
    });

    it('a wait the CLI has no command for is a comment, not a command', () => {
      const step: PlanStep = { service: 'ec2', operation: 'pollUntilReady', kind: 'wait', input: {}, reason: 'r' };
      expect(awsCliCommand(step, 'us-east-1')).toBe('# pollUntilReady: a wait with no AWS CLI command; check by hand before the next step');
    });

    it('puts the whole input in --cli-input-json when the CLI would read a value as a file or URL', () => {
      const step = stepOf('s3:PutBucketPolicy', { Bucket: 'b', Policy: 'file:///etc/passwd' });
      expect(awsCliCommand(step, 'us-east-1')).toBe(`aws s3api put-bucket-policy --region us-east-1 --cli-input-json '{"Bucket":"b","Policy":"file:///etc/passwd"}'`);
    });

    it('passes a value starting with "-" as --name=value, so it cannot read as an option', () => {
      const step = stepOf('ec2:CreateSnapshot', { VolumeId: 'vol-1', Description: '--dry-run' });
      expect(awsCliCommand(step, 'us-east-1')).toBe('aws ec2 create-snapshot --region us-east-1 --volume-id vol-1 --description=--dry-run');
    });
  });

  describe('names as the AWS CLI spells them (botocore xform_name)', () => {
    it.each([
      ['PutBucketAcl', 'put-bucket-acl'],
      ['EnableEbsEncryptionByDefault', 'enable-ebs-encryption-by-default'],
      ['ModifyEbsDefaultKmsKeyId', 'modify-ebs-default-kms-key-id'],
      ['DescribeSecurityGroupRules', 'describe-security-group-rules'],
      ['ListMFADevices', 'list-mfa-devices'],
      ['GrantReadACP', 'grant-read-acp'],
      ['ACL', 'acl'],
      ['S3BucketName', 's3-bucket-name'],
      ['CloudWatchLogsLogGroupArn', 'cloud-watch-logs-log-group-arn'],
      ['CreateDBInstance', 'create-db-instance'],
      ['GatewayARNs', 'gateway-arns'],
      ['SSEKMSKeyId', 'ssekms-key-id'],
    ])('%s → %s', (name, expected) => {
      expect(cliName(name)).toBe(expected);
    });
  });

  describe('bash quoting', () => {
    const hostile = `it's "quoted" $(touch ${temp}/pwned) \`touch ${temp}/pwned\` $HOME; rm -rf ~ \\ end`;

    it('keeps a hostile value inert, in a scalar, inside JSON and as the region', () => {
      const step = stepOf('ec2:CreateSnapshot', {
        VolumeId: 'vol-1',
        Description: hostile,
        TagSpecifications: [{ ResourceType: 'snapshot', Tags: [{ Key: 'k', Value: hostile }] }],
      });
      const command = awsCliCommand(step, hostile);
      expect(command).toBe(
        `aws ec2 create-snapshot --region ${shellWord(hostile)} --volume-id vol-1 --description ${shellWord(hostile)} --tag-specifications ${shellWord(JSON.stringify(step.input['TagSpecifications']))}`,
      );
      expect(shellWord(hostile)).toBe(`'it'\\''s "quoted" $(touch ${temp}/pwned) \`touch ${temp}/pwned\` $HOME; rm -rf ~ \\ end'`);
      expect(argvFromBash(command)).toStrictEqual([expectedArgv(step, hostile)]);
      expect(existsSync(join(temp, 'pwned'))).toBe(false);
    });

    it('keeps a value with control characters on one line, exactly', () => {
      const value = `line 1\nline 2\t'tab'\r\u0007bell \\n`;
      const step = stepOf('ec2:CreateSnapshot', { VolumeId: 'vol-1', Description: value });
      const command = awsCliCommand(step, 'us-east-1');
      expect(command).toBe(`aws ec2 create-snapshot --region us-east-1 --volume-id vol-1 --description $'line 1\\nline 2\\t\\'tab\\'\\r\\x07bell \\\\n'`);
      expect(argvFromBash(command)).toStrictEqual([expectedArgv(step, 'us-east-1')]);
    });

    it('gives the AWS CLI exactly each runnable step of every rule on every recorded event', () => {
      const runnable = replaySteps().filter(({ step, region }) => !awsCliCommand(step, region).startsWith('#'));
      expect(runnable.length).toBeGreaterThan(50);
      const argv = argvFromBash(runnable.map(({ step, region }) => awsCliCommand(step, region)).join('\n'));
      expect(argv).toStrictEqual(runnable.map(({ step, region }) => expectedArgv(step, region)));
    });
  });

  describe('placeholders', () => {
    it('comments out a step that needs an earlier step output, saying what to fill in', () => {
      const step = stepOf('ec2:waitUntilSnapshotCompleted', { SnapshotIds: [stepOutput('snapshot-vol-1', 'SnapshotId')] });
      expect(awsCliCommand(step, 'us-east-1').split('\n')).toStrictEqual([
        '# not runnable as shown: replace <fill in: the SnapshotId that step snapshot-vol-1 returns>, then remove the leading "# "',
        `# aws ec2 wait snapshot-completed --region us-east-1 --snapshot-ids '["<fill in: the SnapshotId that step snapshot-vol-1 returns>"]'`,
      ]);
    });

    it('comments out a step holding a value the bot could not know, naming each one once', () => {
      const unknown = unknownValue("the volume's\nid (DescribeVolumes was unavailable)");
      const step = stepOf('ec2:DetachVolume', { VolumeId: unknown, InstanceId: 'i-1', Device: '/dev/sdf', TagSpecifications: [{ Tags: [{ Key: 'k', Value: unknown }] }] });
      expect(awsCliCommand(step, 'us-east-1').split('\n')).toStrictEqual([
        `# not runnable as shown: replace <fill in: the volume's id (DescribeVolumes was unavailable)>, then remove the leading "# "`,
        `# aws ec2 detach-volume --region us-east-1 --volume-id '<fill in: the volume'\\''s id (DescribeVolumes was unavailable)>' --instance-id i-1 --device /dev/sdf --tag-specifications '[{"Tags":[{"Key":"k","Value":"<fill in: the volume'\\''s id (DescribeVolumes was unavailable)>"}]}]'`,
      ]);
    });

    it('never leaves a runnable command with a placeholder: pasted into bash, no step of any recorded event with one runs', () => {
      const held = replaySteps().filter(({ step }) => /"\$(ref|unknown)"/.test(JSON.stringify(step.input)));
      expect(held.length).toBeGreaterThan(5);
      const texts = held.map(({ step, region }) => awsCliCommand(step, region));
      for (const text of texts) {
        expect(text).toContain('<fill in: ');
        expect(text.split('\n').every((line) => line.startsWith('#'))).toBe(true);
      }
      expect(argvFromBash(texts.join('\n'))).toStrictEqual([]);
    });
  });
});
