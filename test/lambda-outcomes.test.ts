import { describe, expect, it } from 'vitest';
import { parseConfig } from '../engine/config.js';
import { processEvent } from './helpers/engine.js';
import type { Plan, Rule } from '../engine/types.js';
import { loadEvent } from './helpers/fixtures.js';
import { recordingLogger } from './helpers/logger.js';

const proposal: Plan = [{ service: 'ec2', operation: 'RevokeSecurityGroupIngress', input: { GroupId: 'sg-0a1b2c3d4e5f67890' }, reason: 'a person decides' }];

function ruleWith(plan: Plan, withProposal: boolean): Rule {
  return {
    id: 'test-rule',
    title: 'test rule',
    severity: 'high',
    rationale: 'a rule that only proposes',
    family: 'security-groups',
    triggers: [{ eventSource: 'ec2.amazonaws.com', eventNames: ['AuthorizeSecurityGroupIngress'] }],
    permissions: [],
    evaluate: () => ({ kind: 'violation', summary: 'found', resources: ['sg-0a1b2c3d4e5f67890'], findings: [], plan, ...(withProposal ? { proposal } : {}) }),
  };
}

async function outcomeOf(plan: Plan, withProposal: boolean) {
  const rule = ruleWith(plan, withProposal);
  const calls: string[] = [];
  const gateway = { call: async (service: string, operation: string) => void calls.push(`${service}:${operation}`) };
  const result = await processEvent(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), {
    rules: [rule],
    config: parseConfig({ rules: { 'test-rule': { mode: 'remediate' } } }, [rule]),
    env: { ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:111122223333:alerts' },
    gateway,
    logger: recordingLogger(),
  });
  return { outcome: result.status === 'processed' ? result.decisions[0]?.outcome : undefined, calls };
}

describe('processEvent outcomes in remediate mode', () => {
  it('reports a violation with nothing to apply as proposed, never as applied, and writes nothing', async () => {
    expect(await outcomeOf([], true)).toStrictEqual({ outcome: 'proposed', calls: ['sns:Publish'] });
  });

  it('reports a violation with neither plan nor proposal as notified', async () => {
    expect(await outcomeOf([], false)).toStrictEqual({ outcome: 'notified', calls: ['sns:Publish'] });
  });
});

describe('processEvent alert signing', () => {
  it('signs each alert with the key the deployment names, and publishes it unsigned, counted and logged, when signing fails', async () => {
    const rule = ruleWith([], true);
    const calls: string[] = [];
    const counted: string[] = [];
    const logger = recordingLogger();
    const gateway = {
      call: async (service: string, operation: string) => {
        calls.push(`${service}:${operation}`);
        if (operation === 'GenerateMac') throw Object.assign(new Error('denied'), { name: 'AccessDeniedException', $fault: 'client', $metadata: {} });
        return {};
      },
    };
    await processEvent(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), {
      rules: [rule],
      config: parseConfig({ rules: { 'test-rule': { mode: 'remediate' } } }, [rule]),
      env: { ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:111122223333:alerts', ALERT_SIGNING_KEY_ID: 'arn:aws:kms:us-east-1:111122223333:key/hmac' },
      gateway,
      logger,
      metrics: { count: (name, ruleId) => void counted.push(ruleId ? `${name}/${ruleId}` : name) },
    });
    expect(calls).toStrictEqual(['kms:GenerateMac', 'sns:Publish']);
    expect(counted).toContain('AlertSigningFailed/test-rule');
    expect(logger.lines.map((line) => line.message)).toContain('alert published unsigned: signing failed');
  });
});

describe('processEvent severity of an unverified fix', () => {
  it('raises the alert of a fix that no read confirmed to at least high, whatever its finding', async () => {
    const rule: Rule = {
      ...ruleWith([], false),
      evaluate: () => ({
        kind: 'violation',
        summary: 'rotation off',
        resources: ['sg-0a1b2c3d4e5f67890'],
        findings: [{ code: 'medium-thing', severity: 'medium', message: 'a medium finding' }],
        // No verification read: nothing can confirm the step.
        plan: [{ service: 'ec2', operation: 'RevokeSecurityGroupIngress', input: { GroupId: 'sg-0a1b2c3d4e5f67890' }, reason: 'close' }],
      }),
    };
    const published: Record<string, unknown>[] = [];
    const gateway = { call: async (_service: string, operation: string, input: Readonly<Record<string, unknown>>) => void (operation === 'Publish' && published.push({ ...input })) };
    const result = await processEvent(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), {
      rules: [rule],
      config: parseConfig({ rules: { 'test-rule': { mode: 'remediate' } } }, [rule]),
      env: { ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:111122223333:alerts' },
      gateway,
      logger: recordingLogger(),
    });
    expect(result.status === 'processed' && result.decisions[0]?.outcome).toBe('unverified');
    expect(published[0]?.['Subject']).toMatch(/^\[HIGH\] APPLIED, NOT VERIFIED: /);
  });
});
