import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import { isRecordLike, parseEvent, principalArn } from '../engine/event.js';
import { loadEvent } from './helpers/fixtures.js';

describe('parseEvent', () => {
  it('accepts as requestParameters and responseElements exactly what z.record accepts, and names what it refuses', () => {
    const record = z.record(z.string(), z.unknown());
    class Plain {
      readonly a = 1;
    }
    const odd = [
      Object.create(null),
      new Plain(),
      new Date(0),
      new Map(),
      { constructor: 'x' },
      { constructor: () => undefined },
      { constructor: function named() {} },
      { constructor: { prototype: {} } },
      Object.assign(function f() {}, { a: 1 }),
      { a: 1, [Symbol('s')]: 2 },
      JSON.parse('{"__proto__": {"polluted": true}, "groupId": "sg-1"}') as unknown,
      JSON.parse('{"__proto__": 7, "groupId": "sg-1"}') as unknown,
    ];
    const raw = loadEvent('ec2/AuthorizeSecurityGroupIngress-stratus-genuine-anonymised-slash0.json') as { detail: Record<string, unknown> };
    const withParameters = (requestParameters: unknown) => parseEvent({ ...raw, detail: { ...raw.detail, requestParameters } });
    fc.assert(
      fc.property(fc.oneof(fc.anything({ withObjectString: true, withNullPrototype: true, withMap: true, withDate: true }), fc.constantFrom(...odd)), (value) => {
        const expected = record.safeParse(value);
        expect(isRecordLike(value)).toBe(expected.success);
        // What the event keeps is what z.record gives: the same keys, own `__proto__` included, and the same prototype.
        const parsed = withParameters(value);
        // Missing and null are allowed besides (failed calls, data-lake exports).
        expect(parsed.success).toBe(expected.success || value === undefined || value === null);
        if (!parsed.success || !expected.success) return;
        const kept = parsed.event.detail.requestParameters as object;
        expect(Reflect.ownKeys(kept)).toStrictEqual(Reflect.ownKeys(expected.data));
        expect(Object.getPrototypeOf(kept)).toBe(Object.getPrototypeOf(expected.data));
        expect(JSON.stringify(kept)).toBe(JSON.stringify(expected.data));
      }),
      { numRuns: 2000 },
    );
    for (const [value, got] of [['x', 'string'], [[1], 'array'], [7, 'number']] as const) {
      const result = withParameters(value);
      expect(result.success ? undefined : result.error.problems).toStrictEqual([`detail.requestParameters: expected record, got ${got}`]);
    }
    expect(withParameters(null).success).toBe(true);
  });

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
