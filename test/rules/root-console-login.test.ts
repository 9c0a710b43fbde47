import { describe, expect, it } from 'vitest';
import { loadEvent } from '../helpers/fixtures.js';
import { ruleEvaluator } from '../helpers/rule-harness.js';

const evaluate = ruleEvaluator('root-console-login');

const ROOT = 'arn:aws:iam::111122223333:root';

describe('root-console-login', () => {
  it('alerts on a successful root sign-in', () => {
    expect(evaluate(loadEvent('signin/ConsoleLogin-root-success-mfa.json'))).toStrictEqual({
      kind: 'violation',
      summary: 'root console sign-in to account 111122223333',
      resources: [ROOT],
      findings: [
        {
          code: 'root-console-login',
          severity: 'high',
          message: 'The root user signed in to the console from 203.0.113.17. Confirm who it was and that the task needs root; everyday work belongs to IAM roles.',
          subject: ROOT,
        },
      ],
      plan: [],
    });
  });

  it('adds a finding when the root sign-in used no MFA', () => {
    const event = loadEvent('signin/ConsoleLogin-root-success-mfa.json');
    Object.assign(event.detail, { additionalEventData: { LoginTo: 'https://console.aws.amazon.com/console/home', MobileVersion: 'No', MFAUsed: 'No' } });
    const verdict = evaluate(event);
    expect(verdict.kind === 'violation' && verdict.summary).toBe('root console sign-in to account 111122223333 without MFA');
    expect(verdict.kind === 'violation' && verdict.findings.map((f) => f.code)).toStrictEqual(['root-console-login', 'root-login-without-mfa']);
  });

  it.each([
    ['signin/ConsoleLogin-root-failure-compliant.json', 'failed root sign-in attempt from 203.0.113.17: no session was opened'],
    ['signin/ConsoleLogin-iam-user-mfa-compliant.json', 'console sign-in by arn:aws:iam::111122223333:user/alice, not the root user'],
  ])('passes %s', (fixture, summary) => {
    expect(evaluate(loadEvent(fixture))).toMatchObject({ kind: 'compliant', summary });
  });
});
