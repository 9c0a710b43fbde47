import { describe, expect, it } from 'vitest';
import type { Facts } from '../../engine/types.js';
import { loadEvent } from '../helpers/fixtures.js';
import { lookupOf, registeredRule } from '../helpers/registered.js';
import { ruleEvaluator } from '../helpers/rule-harness.js';

const consoleLoginWithoutMfa = registeredRule('console-login-without-mfa');
const evaluate = ruleEvaluator('console-login-without-mfa');

describe('console-login-without-mfa', () => {
  it('alerts on the genuine IAM user sign-in without MFA', () => {
    const user = 'stratus-red-team-nmfalu-jfzdtsvchl';
    expect(evaluate(loadEvent('signin/ConsoleLogin-iam-user-no-mfa-stratus-genuine.json'))).toStrictEqual({
      kind: 'violation',
      summary: `IAM user ${user} signed in to the console without MFA`,
      resources: [`user ${user}`],
      findings: [
        {
          code: 'console-login-without-mfa',
          severity: 'high',
          message: `IAM user ${user} signed in to the console from 225.01.00.16 with a password alone. Confirm it was them, and have them enable MFA (or require it with an IAM policy).`,
          subject: user,
        },
      ],
      plan: [],
    });
  });

  it.each([
    ['signin/ConsoleLogin-iam-user-mfa-compliant.json', 'IAM user alice signed in with MFA'],
    [
      'signin/ConsoleLogin-sso-federated-no-mfa-field-compliant.json',
      "federated sign-in by arn:aws:sts::111122223333:assumed-role/AWSReservedSSO_DataScientist_0123456789abcdef/dana@example.com: MFA is the identity provider's to enforce and not recorded here",
    ],
    ['signin/ConsoleLogin-root-success-mfa.json', 'a root sign-in: judged by root-console-login'],
    ['signin/ConsoleLogin-root-failure-compliant.json', 'a root sign-in: judged by root-console-login'],
  ])('passes %s', (fixture, summary) => {
    expect(evaluate(loadEvent(fixture))).toMatchObject({ kind: 'compliant', summary });
  });

  it('passes a failed IAM user sign-in and exempts a tagged user', () => {
    const failed = loadEvent('signin/ConsoleLogin-iam-user-no-mfa-stratus-genuine.json');
    failed.detail.responseElements = { ConsoleLogin: 'Failure' };
    expect(evaluate(failed).kind).toBe('compliant');
    const lookup = lookupOf(consoleLoginWithoutMfa);
    const facts: Facts = { user: { status: 'ok', value: lookup.select({ User: { Tags: [{ Key: 'remediation:exempt', Value: 'kiosk account' }] } }) } };
    const exempt = evaluate(loadEvent('signin/ConsoleLogin-iam-user-no-mfa-stratus-genuine.json'), { facts });
    expect(exempt.kind === 'exempt' && [exempt.reason, exempt.findings?.map((f) => [f.code, f.severity, f.subject])]).toStrictEqual([
      'IAM user stratus-red-team-nmfalu-jfzdtsvchl is tagged remediation:exempt: kiosk account',
      [['console-login-without-mfa', 'high', 'stratus-red-team-nmfalu-jfzdtsvchl']],
    ]);
    expect(lookup.input(loadEvent('signin/ConsoleLogin-iam-user-mfa-compliant.json'))).toBeUndefined();
    expect(lookup.input(loadEvent('signin/ConsoleLogin-iam-user-no-mfa-stratus-genuine.json'))).toStrictEqual({ UserName: 'stratus-red-team-nmfalu-jfzdtsvchl' });
  });
});
