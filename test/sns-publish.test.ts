import { describe, expect, it } from 'vitest';
import { parseConfig } from '../engine/config.js';
import { decide, offlineFacts } from '../engine/decide.js';
import { parseEvent } from '../engine/event.js';
import type { Outcome } from '../engine/types.js';
import { buildPublishInput } from '../notify/sns.js';
import { registeredRule } from './helpers/registered.js';
import { loadEvent } from './helpers/fixtures.js';

const sgOpenIngress = registeredRule('sg-open-ingress');

async function alertFor(fixture: string, outcome: Outcome) {
  const parsed = parseEvent(loadEvent(fixture));
  if (!parsed.success) throw parsed.error;
  const config = parseConfig({}, [sgOpenIngress]);
  const decision = await decide(parsed.event, sgOpenIngress, { config, env: {}, facts: offlineFacts, now: new Date(0) });
  return { decision, outcome, rationale: sgOpenIngress.rationale };
}

describe('buildPublishInput', () => {
  it('keeps the subject within 100 characters, starting with severity and outcome', async () => {
    const input = buildPublishInput(await alertFor('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json', 'proposed'), 'arn:topic');
    expect(input['Subject']).toBe('[HIGH] PROPOSED: Security group open to the internet - sg-0a1b2c3d4e5f67890');
    const long = await alertFor('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json', 'already-fixed');
    const subject = String(buildPublishInput({ ...long, decision: { ...long.decision, ruleTitle: 'x'.repeat(300) } }, 'arn:topic')['Subject']);
    expect(subject.length).toBe(100);
    expect(subject.startsWith('[HIGH] ALREADY FIXED: ')).toBe(true);
  });

  it('sends text for email, JSON for machines, and the routing attributes', async () => {
    const input = buildPublishInput(await alertFor('ec2/AuthorizeSecurityGroupIngress-ipv6-world-rdp-ruleids.json', 'proposed'), 'arn:topic');
    const message = JSON.parse(String(input['Message'])) as Record<string, string>;
    expect(Object.keys(message).sort()).toStrictEqual(['default', 'email', 'email-json', 'https', 'lambda', 'sqs']);
    const email = message['email'] ?? '';
    for (const expected of [
      'Principal:  arn:aws:sts::111122223333:assumed-role/DevOps/bob',
      'Source IP:  198.51.100.23',
      'Account:    111122223333',
      'Region:     us-east-1',
      'Resource:   sg-0a1b2c3d4e5f67890',
      'WHY THIS MATTERS',
      'ec2:RevokeSecurityGroupIngress {"GroupId":"sg-0a1b2c3d4e5f67890","SecurityGroupRuleIds":["sgr-0123456789abcdef0"]}',
      'HOW TO UNDO',
      `aws ec2 authorize-security-group-ingress --region us-east-1 --group-id sg-0a1b2c3d4e5f67890 --ip-permissions '[{"IpProtocol":"tcp","FromPort":3389,"ToPort":3389,"Ipv6Ranges":[{"CidrIpv6":"::/0"}]}]'`,
    ]) {
      expect(email).toContain(expected);
    }
    const json = JSON.parse(message['lambda'] ?? '{}') as { outcome: string; decision: { rule: string } };
    expect([json.outcome, json.decision.rule]).toStrictEqual(['proposed', 'sg-open-ingress']);
    expect(Object.keys(input['MessageAttributes'] as object).sort()).toStrictEqual(['account', 'mode', 'outcome', 'rule', 'severity', 'severityRank']);
  });
});
