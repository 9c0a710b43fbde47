import { describe, expect, it } from 'vitest';
import { parseEvent, principalArn } from '../engine/event.js';
import { loadEvent } from './helpers/fixtures.js';

describe('parseEvent', () => {
  it('accepts a recorded EventBridge envelope and keeps every field', () => {
    const raw = loadEvent('ec2/AuthorizeSecurityGroupIngress-stratus-genuine-anonymised-slash0.json');
    const result = parseEvent(raw);
    expect(result.success && result.event).toStrictEqual(raw);
  });

  it('rejects another detail-type, naming the event id and the field', () => {
    const raw = { ...loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), 'detail-type': 'EC2 Instance State-change Notification' };
    const result = parseEvent(raw);
    expect(result.success).toBe(false);
    expect(!result.success && result.error.message).toBe(
      `malformed event ${raw.detail.eventID}: detail-type: expected one of "AWS API Call via CloudTrail", got "EC2 Instance State-change Notification"`,
    );
  });

  it('refuses a record whose recipientAccountId is not the envelope\'s account: the account acted on is never in doubt', () => {
    const raw = loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json');
    raw.detail.recipientAccountId = '444455556666';
    const result = parseEvent(raw);
    expect(!result.success && result.error.message).toBe(`malformed event ${raw.detail.eventID}: detail.recipientAccountId: "444455556666" is not the envelope's account "111122223333"`);
  });

  it('accepts null errorCode and null responseElements as data-lake exports write them', () => {
    const raw = loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json');
    Object.assign(raw.detail, { errorCode: null, responseElements: null });
    expect(parseEvent(raw).success).toBe(true);
  });

  it.each([null, 42, [], 'x', { detail: 'x' }])('never throws on %j', (raw) => {
    const result = parseEvent(raw);
    expect(result.success).toBe(false);
    expect(!result.success && result.error.name).toBe('EventParseError');
  });
});

describe('principalArn', () => {
  it('names the IAM user, or the session of an assumed role', () => {
    expect(principalArn(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'))).toBe('arn:aws:iam::111122223333:user/alice');
    expect(principalArn(loadEvent('ec2/AuthorizeSecurityGroupIngress-ipv6-world-rdp-ruleids.json'))).toBe('arn:aws:sts::111122223333:assumed-role/DevOps/bob');
  });
});
