/**
 * The promise of the ebs family: no plan and no proposal ever deletes
 * anything. Every rule runs over every recorded event, offline and with
 * lookups, and over thousands of mutated events and random lookup answers.
 * Undo steps may remove only the bot's own marker tags (`DeleteTags`).
 */
import * as fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../engine/config.js';
import { decide, offlineFacts } from '../engine/decide.js';
import { parseEvent, type CloudTrailEvent } from '../engine/event.js';
import type { Fact, Facts, Plan, Rule, Verdict } from '../engine/types.js';
import { ebsRules } from '../remediations/ebs/index.js';
import { allFixtureNames, loadEvent } from './helpers/fixtures.js';

const DESTRUCTIVE = /^(Delete|Deregister|Terminate|Disable|Reset|Revoke|Cancel|Release)/;
const rules: readonly Rule[] = ebsRules;
const NOW = new Date('2025-03-10T00:00:00Z');
const configs = [
  parseConfig({}, rules),
  parseConfig({ trustedAccounts: ['444455556666'], rules: { 'ebs-unencrypted-volume': { kmsKeyId: 'alias/ebs-data' } } }, rules),
];

function assertNeverDestructive(verdict: Verdict, where: string): void {
  if (verdict.kind !== 'violation') return;
  const steps: Plan = [...verdict.plan, ...(verdict.proposal ?? [])];
  for (const step of steps) {
    expect(step.operation, `${where}: ${step.operation}`).not.toMatch(DESTRUCTIVE);
    // Undo restores the state before the event: it may re-disable a setting or re-share (the event's own act), and remove only the bot's tags.
    if (step.undo && /^Delete/.test(step.undo.operation)) expect(step.undo.operation, where).toBe('DeleteTags');
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
  fc.record({ Snapshots: fc.array(fc.record({ SnapshotId: fc.string(), Tags: fc.array(fc.record({ Key: fc.string(), Value: fc.string() })) }), { maxLength: 1 }) }),
  fc.record({ CreateVolumePermissions: fc.array(fc.record({ Group: fc.constant('all'), UserId: fc.string() }, { requiredKeys: [] })) }),
  fc.record({ LaunchPermissions: fc.array(fc.record({ Group: fc.constant('all'), UserId: fc.string() }, { requiredKeys: [] })) }),
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
          assertNeverDestructive(verdict, `${rule.id} ${event.detail.eventName} ${event.detail.eventID}`);
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
          assertNeverDestructive(verdict, rule.id);
        },
      ),
      { numRuns: 2_000 },
    );
    expect(violations).toBeGreaterThan(0);
  });
});
