/** The ebs function can run everything its rules plan, propose, look up and read around each step, and its role holds exactly the permissions the automatic plans need. */
import { describe, expect, it } from 'vitest';
import { statementsFor } from '../deploy/deployment.js';
import { parseConfig } from '../engine/config.js';
import { decide, offlineFacts } from '../engine/decide.js';
import { parseEvent } from '../engine/event.js';
import { isWaitStep, type Facts, type Plan, type Rule } from '../engine/types.js';
import { ebsRules } from '../remediations/ebs/index.js';
import { allFixtureNames, loadEvent } from './helpers/fixtures.js';
import { runtimeCommands } from '../handlers/runtime.js';
import { ebsFamily } from '../remediations/ebs/index.js';
import { lookupOf, registeredRule } from './helpers/registered.js';

const ebsCommands = runtimeCommands(ebsFamily);
const ebsUnencryptedVolume = registeredRule('ebs-unencrypted-volume');

const config = parseConfig({ rules: { 'ebs-unencrypted-volume': { kmsKeyId: 'alias/ebs-data' } } }, ebsRules);

async function everyStep(): Promise<Plan> {
  const steps: Plan[number][] = [];
  for (const name of allFixtureNames()) {
    const parsed = parseEvent(loadEvent(name));
    if (!parsed.success) continue;
    for (const rule of ebsRules) {
      const { verdict } = await decide(parsed.event, rule, { config, env: {}, facts: offlineFacts, now: new Date(0) });
      if (verdict.kind === 'violation') steps.push(...verdict.plan, ...(verdict.proposal ?? []));
    }
  }
  // The attached-volume migration exists only with DescribeVolumes facts.
  const facts: Facts = {
    volume: {
      status: 'ok',
      value: lookupOf(ebsUnencryptedVolume).select({
        Volumes: [{ VolumeId: 'vol-1', Encrypted: false, Attachments: [{ InstanceId: 'i-1', Device: '/dev/sdf', State: 'attached' }] }],
      }),
    },
  };
  const attached = ebsUnencryptedVolume.evaluate(loadEvent('ec2/CreateVolume-request-encrypted-absent-response-false.json'), facts, {
    config,
    settings: config.rules['ebs-unencrypted-volume']?.settings,
    now: new Date(0),
  });
  if (attached.kind === 'violation') steps.push(...attached.plan, ...(attached.proposal ?? []));
  return steps;
}

describe('ebs command table', () => {
  it('has a command for every call and every undo, and a waiter for every wait, of every plan and proposal', async () => {
    const steps = await everyStep();
    const operations = new Set(steps.map((s) => `${isWaitStep(s) ? 'wait ' : ''}${s.service}:${s.operation}`));
    expect([...operations].sort()).toStrictEqual([
      'ec2:AttachVolume',
      'ec2:CopySnapshot',
      'ec2:CreateSnapshot',
      'ec2:CreateTags',
      'ec2:CreateVolume',
      'ec2:DetachVolume',
      'ec2:EnableEbsEncryptionByDefault',
      'ec2:ModifyEbsDefaultKmsKeyId',
      'ec2:ModifyImageAttribute',
      'ec2:ModifySnapshotAttribute',
      'ec2:StartInstances',
      'ec2:StopInstances',
      'wait ec2:waitUntilInstanceStopped',
      'wait ec2:waitUntilSnapshotCompleted',
      'wait ec2:waitUntilVolumeAvailable',
    ]);
    for (const step of steps) {
      const key = `${step.service}:${step.operation}`;
      if (isWaitStep(step)) expect(ebsCommands.waiters?.[key], key).toBeTypeOf('function');
      else expect(ebsCommands.commands[key as keyof typeof ebsCommands.commands], key).toBeDefined();
    }
    const undos = new Set(steps.flatMap((s) => (s.undo ? [`${s.undo.service}:${s.undo.operation}`] : [])));
    expect([...undos].sort()).toStrictEqual([
      'ec2:AttachVolume',
      'ec2:DeleteTags',
      'ec2:DetachVolume',
      'ec2:DisableEbsEncryptionByDefault',
      'ec2:ModifyImageAttribute',
      'ec2:ModifySnapshotAttribute',
      'ec2:ResetEbsDefaultKmsKeyId',
      'ec2:StartInstances',
      'ec2:StopInstances',
    ]);
    for (const key of undos) expect(ebsCommands.commands[key as keyof typeof ebsCommands.commands], key).toBeDefined();
  });

  it('has a command for every read before and after a step, the same one its probe names', async () => {
    const steps = await everyStep();
    const reads = new Set(steps.flatMap((s) => [s.precondition, s.verification]).flatMap((check) => (check ? [`${check.service}:${check.operation}`] : [])));
    expect([...reads].sort()).toStrictEqual([
      'ec2:DescribeImageAttribute',
      'ec2:DescribeInstances',
      'ec2:DescribeSnapshotAttribute',
      'ec2:DescribeSnapshots',
      'ec2:DescribeVolumes',
      'ec2:GetEbsDefaultKmsKeyId',
      'ec2:GetEbsEncryptionByDefault',
    ]);
    for (const key of reads) expect(ebsCommands.commands[key as keyof typeof ebsCommands.commands], key).toBeDefined();
  });

  it('has a command for every lookup and every probe, and SNS for alerts', () => {
    for (const rule of ebsRules as readonly Rule[]) {
      for (const read of [...(rule.lookups ?? []), ...(rule.probes ?? [])]) {
        expect(ebsCommands.commands[`${read.service}:${read.operation}` as keyof typeof ebsCommands.commands], `${rule.id} ${read.name}`).toBeDefined();
      }
    }
    expect(ebsCommands.commands['sns:Publish']).toBeDefined();
  });
});

describe('ebs IAM statements', () => {
  it('grant the automatic plans, the attribute lookups and reads on scoped resources, account settings and the other reads on *, and never ec2:*', () => {
    expect(statementsFor(ebsRules)).toStrictEqual([
      {
        Effect: 'Allow',
        Action: [
          'ec2:DescribeImages',
          'ec2:DescribeInstances',
          'ec2:DescribeSnapshots',
          'ec2:DescribeVolumes',
          'ec2:EnableEbsEncryptionByDefault',
          'ec2:GetEbsDefaultKmsKeyId',
          'ec2:GetEbsEncryptionByDefault',
          'ec2:ModifyEbsDefaultKmsKeyId',
        ],
        Resource: '*',
      },
      { Effect: 'Allow', Action: ['ec2:DescribeImageAttribute'], Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:ec2:${AWS::Region}::image/*' } },
      // Image and snapshot ARNs name no account: the writes hold only for the deploying account's resources.
      {
        Effect: 'Allow',
        Action: ['ec2:ModifyImageAttribute'],
        Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:ec2:${AWS::Region}::image/*' },
        Condition: { StringEquals: { 'aws:ResourceAccount': { 'Fn::Sub': '${AWS::AccountId}' } } },
      },
      { Effect: 'Allow', Action: ['ec2:DescribeSnapshotAttribute'], Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:ec2:${AWS::Region}::snapshot/*' } },
      {
        Effect: 'Allow',
        Action: ['ec2:ModifySnapshotAttribute'],
        Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:ec2:${AWS::Region}::snapshot/*' },
        Condition: { StringEquals: { 'aws:ResourceAccount': { 'Fn::Sub': '${AWS::AccountId}' } } },
      },
      { Effect: 'Allow', Action: ['ec2:CreateTags'], Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:volume/*' } },
    ]);
  });

  it('grant ec2:ModifyEbsDefaultKmsKeyId only when ebs-unencrypted-volume remediates with a kmsKeyId set', () => {
    const writes = (raw: unknown) => statementsFor(ebsRules, parseConfig(raw, ebsRules)).flatMap((s) => s.Action).filter((a) => !/^ec2:(Describe|Get)/.test(a));
    expect(writes({})).toStrictEqual([]);
    expect(writes({ rules: { 'ebs-unencrypted-volume': { mode: 'remediate' } } }).sort()).toStrictEqual(['ec2:CreateTags', 'ec2:EnableEbsEncryptionByDefault']);
    expect(writes({ rules: { 'ebs-unencrypted-volume': { mode: 'remediate', kmsKeyId: 'alias/ebs-data' } } }).sort()).toStrictEqual([
      'ec2:CreateTags',
      'ec2:EnableEbsEncryptionByDefault',
      'ec2:ModifyEbsDefaultKmsKeyId',
    ]);
  });

  it('do not grant the proposed migration: a person approves and runs it with their own permissions', () => {
    const actions = statementsFor(ebsRules).flatMap((s) => s.Action);
    for (const action of ['ec2:CreateSnapshot', 'ec2:CopySnapshot', 'ec2:CreateVolume', 'ec2:StopInstances', 'ec2:StartInstances', 'ec2:DetachVolume', 'ec2:AttachVolume']) {
      expect(actions).not.toContain(action);
    }
    expect(actions.some((a) => a.startsWith('ec2:Delete') || a === 'ec2:*')).toBe(false);
  });
});
