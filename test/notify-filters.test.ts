import { describe, expect, it } from 'vitest';
import {
  channelFilterPolicy,
  matchesFilterPolicy,
  notificationFilterPolicies,
  type FilterPolicy,
  type MessageAttribute,
} from '../deploy/notification-filters.js';
import { parseConfig } from '../engine/config.js';
import { OUTCOMES, SEVERITIES, type Outcome, type Severity } from '../engine/types.js';
import type { Alert } from '../notify/alert.js';
import { buildPublishInput } from '../notify/sns.js';
import { registeredRule } from './helpers/registered.js';
import { appliedAlert } from './helpers/notify-samples.js';

const sgOpenIngress = registeredRule('sg-open-ingress');

const TOPIC = 'arn:aws:sns:us-east-1:111122223333:remediation-bot-dev-alerts';

/** The attributes `notify/sns.ts` really publishes for an alert of this severity and outcome. */
async function publishedAttributes(severity: Severity, outcome: Outcome): Promise<Record<string, MessageAttribute>> {
  const alert = await appliedAlert();
  const variant: Alert = { ...alert, outcome, decision: { ...alert.decision, severity } };
  return buildPublishInput(variant, TOPIC)['MessageAttributes'] as Record<string, MessageAttribute>;
}

async function deliveredSeverities(policy: FilterPolicy | undefined, outcome: Outcome = 'applied'): Promise<Severity[]> {
  const delivered: Severity[] = [];
  for (const severity of SEVERITIES) if (matchesFilterPolicy(policy, await publishedAttributes(severity, outcome))) delivered.push(severity);
  return delivered;
}

describe('notification filter policies', () => {
  describe('channelFilterPolicy', () => {
    it('routes on the numeric severityRank attribute', () => {
      expect(channelFilterPolicy({ minSeverity: 'high' })).toStrictEqual({
        $or: [{ severityRank: [{ numeric: ['>=', 3] }] }, { severityRank: [{ exists: false }] }],
      });
      expect(channelFilterPolicy({ minSeverity: 'medium' })).toStrictEqual({
        $or: [{ severityRank: [{ numeric: ['>=', 2] }] }, { severityRank: [{ exists: false }] }],
      });
    });

    it('never silences CloudWatch alarms, which carry no message attributes, whatever the threshold', () => {
      expect(channelFilterPolicy({ minSeverity: 'low' })).toBeUndefined();
      for (const minSeverity of ['low', 'medium', 'high', 'critical'] as const) {
        expect(matchesFilterPolicy(channelFilterPolicy({ minSeverity }), {})).toBe(true);
        expect(matchesFilterPolicy(channelFilterPolicy({ minSeverity, excludeOutcomes: ['exempt'] }), {})).toBe(true);
      }
      expect(channelFilterPolicy({ minSeverity: 'low', excludeOutcomes: ['exempt'] })).toStrictEqual({
        $or: [{ severityRank: [{ numeric: ['>=', 1] }], outcome: [{ 'anything-but': ['exempt'] }] }, { severityRank: [{ exists: false }] }],
      });
    });

    it.each([
      ['low', ['low', 'medium', 'high', 'critical']],
      ['medium', ['medium', 'high', 'critical']],
      ['high', ['high', 'critical']],
      ['critical', ['critical']],
    ] as const)('with minimum %s delivers exactly %j', async (minimum, expected) => {
      expect(await deliveredSeverities(channelFilterPolicy({ minSeverity: minimum }))).toStrictEqual(expected);
    });

    it('delivers every outcome the bot publishes when no outcome is excluded', async () => {
      const policy = channelFilterPolicy({ minSeverity: 'low' });
      for (const outcome of OUTCOMES) expect(matchesFilterPolicy(policy, await publishedAttributes('high', outcome))).toBe(true);
    });

    it('drops excluded outcomes and keeps the others', async () => {
      const policy = channelFilterPolicy({ minSeverity: 'medium', excludeOutcomes: ['exempt', 'already-fixed', 'exempt'] });
      expect(policy).toStrictEqual({
        $or: [{ severityRank: [{ numeric: ['>=', 2] }], outcome: [{ 'anything-but': ['exempt', 'already-fixed'] }] }, { severityRank: [{ exists: false }] }],
      });
      const delivered: Outcome[] = [];
      for (const outcome of OUTCOMES) if (matchesFilterPolicy(policy, await publishedAttributes('high', outcome))) delivered.push(outcome);
      expect(delivered).toStrictEqual(['applied', 'unverified', 'stale', 'proposed', 'notified', 'failed', 'uninspected', 'none']);
      expect(await deliveredSeverities(policy, 'applied')).toStrictEqual(['medium', 'high', 'critical']);
    });
  });

  describe('notificationFilterPolicies', () => {
    it('gives each channel its own minimum from the config', async () => {
      const config = parseConfig({ notifications: { slackMinSeverity: 'high', emailMinSeverity: 'critical' } }, [sgOpenIngress]);
      const policies = notificationFilterPolicies(config.notifications);
      expect(policies).toStrictEqual({
        slack: { $or: [{ severityRank: [{ numeric: ['>=', 3] }] }, { severityRank: [{ exists: false }] }] },
        email: { $or: [{ severityRank: [{ numeric: ['>=', 4] }] }, { severityRank: [{ exists: false }] }] },
      });
      expect(await deliveredSeverities(policies.slack)).toStrictEqual(['high', 'critical']);
      expect(await deliveredSeverities(policies.email)).toStrictEqual(['critical']);
    });

    it('delivers everything with the default config, with no policy at all', async () => {
      const { notifications } = parseConfig({}, [sgOpenIngress]);
      const policies = notificationFilterPolicies(notifications);
      expect(policies).toStrictEqual({});
      expect(await deliveredSeverities(policies.slack)).toStrictEqual([...SEVERITIES]);
      expect(await deliveredSeverities(policies.email)).toStrictEqual([...SEVERITIES]);
    });
  });

  describe('matchesFilterPolicy (SNS attribute semantics)', () => {
    const number = (value: string): MessageAttribute => ({ DataType: 'Number', StringValue: value });
    const string = (value: string): MessageAttribute => ({ DataType: 'String', StringValue: value });

    it('does not match a message that lacks an attribute the policy names', () => {
      expect(matchesFilterPolicy({ severityRank: [{ numeric: ['>=', 1] }] }, { severity: string('high') })).toBe(false);
      expect(matchesFilterPolicy({ outcome: [{ 'anything-but': ['exempt'] }] }, {})).toBe(false);
    });

    it('compares numerically only Number attributes', () => {
      expect(matchesFilterPolicy({ severityRank: [{ numeric: ['>=', 3] }] }, { severityRank: string('4') })).toBe(false);
      expect(matchesFilterPolicy({ severityRank: [{ numeric: ['>=', 3] }] }, { severityRank: number('3.0') })).toBe(true);
      expect(matchesFilterPolicy({ severityRank: [{ numeric: ['<', 3] }] }, { severityRank: number('3') })).toBe(false);
    });

    it('ORs the conditions of a key and ANDs the keys', () => {
      const policy: FilterPolicy = { severity: ['high', 'critical'], outcome: [{ 'anything-but': ['exempt'] }] };
      expect(matchesFilterPolicy(policy, { severity: string('critical'), outcome: string('applied') })).toBe(true);
      expect(matchesFilterPolicy(policy, { severity: string('critical'), outcome: string('exempt') })).toBe(false);
      expect(matchesFilterPolicy(policy, { severity: string('low'), outcome: string('applied') })).toBe(false);
    });

    it('matches exact numbers against Number attributes and strings against String attributes', () => {
      expect(matchesFilterPolicy({ severityRank: [4] }, { severityRank: number('4') })).toBe(true);
      expect(matchesFilterPolicy({ severityRank: ['4'] }, { severityRank: number('4') })).toBe(false);
      expect(matchesFilterPolicy({ severityRank: [{ 'anything-but': [4] }] }, { severityRank: number('3') })).toBe(true);
      expect(matchesFilterPolicy({ severityRank: [{ 'anything-but': [4] }] }, { severityRank: number('4') })).toBe(false);
    });
  });
});
