/**
 * The promise of the ebs family: no plan and no proposal ever deletes
 * anything, and nothing is written unread. Every rule runs over every
 * recorded event, offline and with lookups, and over thousands of mutated
 * events and random lookup answers. Undo steps may remove only the bot's own
 * marker tags (`DeleteTags`). Every call step carries a read before and a read
 * after, both read-only calls judged by one of the rule's own probes, and each
 * probe answers any SDK output with a verdict (or an error the executor turns
 * into "could not read"), never with anything else.
 */
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../engine/config.js';
import { decide, offlineFacts } from '../engine/decide.js';
import { parseEvent, type CloudTrailEvent } from '../engine/event.js';
import { isWaitStep, type Fact, type Facts, type Plan, type Rule, type StateCheck, type Verdict } from '../engine/types.js';
import { ebsRules } from '../remediations/ebs/index.js';
import { allFixtureNames, loadEvent } from './helpers/fixtures.js';

const DESTRUCTIVE = /^(Delete|Deregister|Terminate|Disable|Reset|Revoke|Cancel|Release)/;
const rules: readonly Rule[] = ebsRules;
const NOW = new Date('2025-03-10T00:00:00Z');
const configs = [
  parseConfig({}, rules),
  parseConfig({ trustedAccounts: ['444455556666'], rules: { 'ebs-unencrypted-volume': { kmsKeyId: 'alias/ebs-data' } } }, rules),
];

const READ_ONLY = /^(Describe|Get)/;

/** The check is a read-only call that one of the rule's probes makes and judges. */
function assertReadByProbe(rule: Rule, check: StateCheck | undefined, where: string): void {
  expect(check, where).toBeDefined();
  if (!check) return;
  expect(check.operation, where).toMatch(READ_ONLY);
  const probe = rule.probes?.find((p) => p.name === check.probe);
  expect(probe && [probe.service, probe.operation], `${where}: probe ${check.probe}`).toStrictEqual([check.service, check.operation]);
}

function assertNeverDestructive(rule: Rule, verdict: Verdict, where: string): void {
  if (verdict.kind !== 'violation') return;
  const steps: Plan = [...verdict.plan, ...(verdict.proposal ?? [])];
  for (const step of steps) {
    const at = `${where}: ${step.operation}`;
    expect(step.operation, at).not.toMatch(DESTRUCTIVE);
    // Undo restores the state before the event: it may re-disable a setting or re-share (the event's own act), and remove only the bot's tags.
    if (step.undo && /^Delete/.test(step.undo.operation)) expect(step.undo.operation, where).toBe('DeleteTags');
    if (isWaitStep(step)) continue;
    expect(step.alreadyDone, at).toBeUndefined();
    assertReadByProbe(rule, step.precondition, `${at} precondition`);
    assertReadByProbe(rule, step.verification, `${at} verification`);
  }
}

const fixtures: CloudTrailEvent[] = allFixtureNames().flatMap((name) => {
  const parsed = parseEvent(loadEvent(name));
  return parsed.success ? [parsed.event] : [];
});

const sdkVolume = fc.record(
  {
    VolumeId: fc.constantFrom('vol-0a1b2c3d4e5f60001', 'vol-0a1b2c3d4e5f6000b', 'vol-x'),
    Encrypted: fc.boolean(),
    AvailabilityZone: fc.constantFrom('us-east-1a', 'us-east-1b'),
    VolumeType: fc.constantFrom('gp2', 'gp3', 'io1', 'io2', 'st1', 'sc1', 'standard'),
    Size: fc.integer({ min: 1, max: 16384 }),
    Iops: fc.integer({ min: 100, max: 64000 }),
    Throughput: fc.integer({ min: 125, max: 1000 }),
    MultiAttachEnabled: fc.boolean(),
    Tags: fc.array(fc.record({ Key: fc.constantFrom('Name', 'remediation:exempt', 'remediation:unencrypted', 'aws:cloudformation:stack-name'), Value: fc.string() }), {
      maxLength: 3,
    }),
    Attachments: fc.array(
      fc.record({
        InstanceId: fc.constantFrom('i-0a1b2c3d4e5f60001', 'i-0a1b2c3d4e5f60002'),
        Device: fc.constantFrom('/dev/xvda', '/dev/sdf'),
        State: fc.constantFrom('attached', 'attaching', 'detached'),
      }),
      { maxLength: 2 },
    ),
  },
  { requiredKeys: ['VolumeId'] },
);

/** A plausible SDK answer for any of the family's lookups, or garbage. */
const sdkOutput = fc.oneof(
  fc.record({ Volumes: fc.array(sdkVolume, { maxLength: 3 }) }),
  fc.record({ EbsEncryptionByDefault: fc.boolean() }),
  fc.record({ KmsKeyId: fc.constantFrom('arn:aws:kms:us-east-1:111122223333:alias/aws/ebs', 'alias/ebs-data') }),
  fc.record({
    Snapshots: fc.array(
      fc.record(
        {
          SnapshotId: fc.string(),
          VolumeId: fc.constantFrom('vol-0a1b2c3d4e5f60001', 'vol-ffffffff'),
          State: fc.constantFrom('pending', 'completed', 'error', 'recoverable'),
          Encrypted: fc.boolean(),
          Tags: fc.array(fc.record({ Key: fc.string(), Value: fc.string() })),
        },
        { requiredKeys: ['SnapshotId'] },
      ),
      { maxLength: 1 },
    ),
  }),
  fc.record({
    Reservations: fc.array(
      fc.record({
        Instances: fc.array(
          fc.record(
            {
              InstanceId: fc.constantFrom('i-0a1b2c3d4e5f60001', 'i-0a1b2c3d4e5f60002'),
              State: fc.record({ Name: fc.constantFrom('pending', 'running', 'stopping', 'stopped', 'shutting-down', 'terminated') }),
            },
            { requiredKeys: ['InstanceId'] },
          ),
          { maxLength: 2 },
        ),
      }),
      { maxLength: 2 },
    ),
  }),
  fc.record(
    {
      SnapshotId: fc.constantFrom('snap-0a1b2c3d4e5f60001', 'snap-0a1b2c3d4e5f60002', 'snap-x'),
      CreateVolumePermissions: fc.array(fc.record({ Group: fc.constant('all'), UserId: fc.constantFrom('444455556666', '999988887777') }, { requiredKeys: [] })),
    },
    { requiredKeys: [] },
  ),
  fc.record(
    {
      ImageId: fc.constantFrom('ami-0a1b2c3d4e5f60001', 'ami-x'),
      LaunchPermissions: fc.array(fc.record({ Group: fc.constant('all'), UserId: fc.constantFrom('444455556666', '846424999548') }, { requiredKeys: [] })),
    },
    { requiredKeys: [] },
  ),
  fc.record({ Images: fc.array(fc.record({ ImageId: fc.string(), Public: fc.boolean() }), { maxLength: 1 }) }),
  fc.jsonValue(),
);

const factFor = (rule: Rule) =>
  fc.tuple(
    ...(rule.lookups ?? []).map((lookup) =>
      fc.oneof(
        fc.constant<Fact>({ status: 'unavailable', reason: 'denied' }),
        fc.constant<Fact>({ status: 'ok', value: null }),
        sdkOutput.map<Fact>((output) => {
          try {
            return { status: 'ok', value: lookup.select(output) };
          } catch {
            return { status: 'unavailable', reason: 'select failed' };
          }
        }),
      ),
    ),
  ).map((facts): Facts => Object.fromEntries((rule.lookups ?? []).map((lookup, index) => [lookup.name, facts[index] as Fact])));

/** Replaces one value somewhere in the record with something hostile, or removes it. */
function mutate(event: CloudTrailEvent, path: readonly string[], replacement: unknown): CloudTrailEvent {
  const copy = structuredClone(event);
  let node: unknown = copy.detail;
  for (const [index, key] of path.entries()) {
    if (typeof node !== 'object' || node === null) return copy;
    const record = node as Record<string, unknown>;
    if (index === path.length - 1) {
      if (replacement === undefined) delete record[key];
      else record[key] = replacement;
    } else {
      node = record[key];
    }
  }
  return copy;
}

const mutationPaths = [
  ['requestParameters'],
  ['responseElements'],
  ['requestParameters', 'createVolumePermission', 'add'],
  ['requestParameters', 'launchPermission', 'add', 'items'],
  ['requestParameters', 'blockDeviceMapping', 'items'],
  ['requestParameters', 'snapshotId'],
  ['requestParameters', 'imageId'],
  ['requestParameters', 'encrypted'],
  ['responseElements', 'encrypted'],
  ['responseElements', 'volumeId'],
  ['responseElements', 'size'],
  ['responseElements', 'tagSet'],
  ['responseElements', 'instancesSet', 'items'],
  ['eventTime'],
  ['awsRegion'],
] as const;

const hostile = fc.oneof(
  fc.constant(undefined),
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom({ items: [{ group: 'all' }, { userId: '999988887777' }] }, [{ group: 'all' }], { items: [{ deviceName: '/dev/sdf', ebs: { encrypted: false } }] }, 'vol-0a1b2c3d4e5f60009'),
  fc.string({ maxLength: 2000 }),
);

describe('ebs rules never delete', () => {
  it('plans and proposes no destructive call for any recorded event, offline', async () => {
    let violations = 0;
    for (const event of fixtures) {
      for (const rule of rules) {
        for (const config of configs) {
          const { verdict } = await decide(event, rule, { config, env: {}, facts: offlineFacts, now: NOW });
          if (verdict.kind === 'violation') violations += 1;
          assertNeverDestructive(rule, verdict, `${rule.id} ${event.detail.eventName} ${event.detail.eventID}`);
        }
      }
    }
    expect(violations).toBeGreaterThan(10);
  });

  it.each(rules.map((rule) => [rule.id, rule] as const))('%s plans no destructive call for mutated events and any lookup answer', (_, rule) => {
    const own = fixtures.filter((event) => rule.triggers.some((t) => t.eventNames.includes(event.detail.eventName)));
    let violations = 0;
    fc.assert(
      fc.property(
        fc.constantFrom(...own),
        fc.constantFrom(...mutationPaths),
        hostile,
        factFor(rule),
        fc.constantFrom(...configs),
        (event, path, replacement, facts, config) => {
          const mutated = mutate(event, path, replacement);
          const parsed = parseEvent(mutated);
          if (!parsed.success) return;
          const verdict = rule.evaluate(parsed.event, facts, { config, settings: config.rules[rule.id]?.settings, now: NOW });
          if (verdict.kind === 'violation') violations += 1;
          assertNeverDestructive(rule, verdict, rule.id);
        },
      ),
      { numRuns: 2_000 },
    );
    expect(violations).toBeGreaterThan(0);
  });
});

describe('ebs probes judge any answer', () => {
  const checks = fixtures.flatMap((event) =>
    rules.flatMap((rule) =>
      configs.flatMap((config) => {
        const verdict = rule.evaluate(event, {}, { config, settings: config.rules[rule.id]?.settings, now: NOW });
        if (verdict.kind !== 'violation') return [];
        return [...verdict.plan, ...(verdict.proposal ?? [])].flatMap((step) => [step.precondition, step.verification]).flatMap((check) => (check ? [{ rule, check }] : []));
      }),
    ),
  );

  it('has checks to judge', () => {
    expect(new Set(checks.map(({ check }) => check.probe)).size).toBeGreaterThan(8);
  });

  it('answers needed, done or changed with evidence, or throws an Error (then the step is not run), for any SDK output and for "not found"', () => {
    fc.assert(
      fc.property(fc.constantFrom(...checks), fc.oneof(sdkOutput, fc.constant(null)), ({ rule, check }, output) => {
        const probe = rule.probes?.find((p) => p.name === check.probe);
        if (!probe) throw new Error(`no probe ${check.probe}`);
        if (output === null && probe.notFoundCodes === undefined) return;
        let verdict: unknown;
        try {
          verdict = probe.judge(output, check.expect);
        } catch (error) {
          expect(error).toBeInstanceOf(Error);
          return;
        }
        expect(verdict).toStrictEqual({ state: expect.stringMatching(/^(needed|done|changed)$/), evidence: expect.any(String) });
      }),
      { numRuns: 3_000 },
    );
  });
});
