/**
 * bot-role-impostor: the bot is its exact roles. A role on `/remediation-bot/`
 * that is not one of them, or a bot role assumed by anyone but the Lambda
 * service, is a high-severity alert.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.js';
import { decide, offlineFacts } from '../../engine/decide.js';
import type { CloudTrailEvent } from '../../engine/event.js';
import { patternForRule, ruleMatches } from '../../engine/patterns.js';
import type { Verdict } from '../../engine/types.js';
import { assumedRoleArn, createdRole } from '../../remediations/credentials/bot-role-impostor.js';
import { credentialRules } from '../../remediations/credentials/index.js';
import { loadEvent } from '../helpers/fixtures.js';
import { registeredRule } from '../helpers/registered.js';
import { evaluateRule } from '../helpers/rule-harness.js';

const botRoleImpostor = registeredRule('bot-role-impostor');

const NOW = new Date('2025-03-10T15:00:00Z');
const ACCOUNT = '111122223333';
/** The bot's function roles as the deployment names them (`functionRole` in deploy/deployment.ts). */
const BOT_ROLES = [
  `arn:aws:iam::${ACCOUNT}:role/remediation-bot/remediation-bot-prod-us-east-1-credentials`,
  `arn:aws:iam::${ACCOUNT}:role/remediation-bot/remediation-bot-prod-us-east-1-iam`,
];
const [CREDENTIALS_ROLE = '', IAM_ROLE = ''] = BOT_ROLES;
const LOOK_ALIKE = `arn:aws:iam::${ACCOUNT}:role/remediation-bot/remediation-bot-prod-us-east-1-helper`;

function evaluate(event: CloudTrailEvent, botRoles: readonly string[] = BOT_ROLES): Verdict {
  return evaluateRule(botRoleImpostor, event, { botRoles, now: NOW });
}

describe('bot-role-impostor', () => {
  describe('pattern', () => {
    it('listens to CreateRole (IAM) and to AssumeRole (STS) of roles on the bot path only, as API calls', () => {
      expect(patternForRule(botRoleImpostor)).toStrictEqual({
        source: ['aws.iam', 'aws.sts'],
        'detail-type': ['AWS API Call via CloudTrail'],
        detail: {
          $or: [
            { eventSource: ['iam.amazonaws.com'], eventName: ['CreateRole'] },
            { eventSource: ['sts.amazonaws.com'], eventName: ['AssumeRole'], requestParameters: { roleArn: [{ wildcard: 'arn:*:iam::*:role/remediation-bot/*' }] } },
          ],
        },
      });
      expect(ruleMatches(botRoleImpostor, loadEvent('sts/AssumeRole-bot-role-by-iam-user.json'))).toBe(true);
      // Every other role assumption in the account stays out of the function: EventBridge filters it.
      expect(ruleMatches(botRoleImpostor, loadEvent('sts/AssumeRole-other-role-stratus-genuine-compliant.json'))).toBe(false);
    });
  });

  describe('CreateRole', () => {
    it('flags a look-alike role created on the bot path', () => {
      expect(evaluate(loadEvent('iam/CreateRole-look-alike-role-on-bot-path.json'))).toStrictEqual({
        kind: 'violation',
        summary: `${LOOK_ALIKE} created on the bot's path by arn:aws:sts::${ACCOUNT}:assumed-role/Developer/mallory; it is not one of the bot's roles`,
        resources: [LOOK_ALIKE],
        findings: [
          {
            code: 'bot-path-role-created',
            severity: 'high',
            message: `arn:aws:sts::${ACCOUNT}:assumed-role/Developer/mallory (from 203.0.113.66) created role ${LOOK_ALIKE} on the path /remediation-bot/, which is reserved to the bot's deployment. It is not one of the bot's roles, so the bot gives it no trust and judges its calls like anyone's, but a role there passes for the bot to people and tools. Find out who created it and why, and delete it: the bot cannot (its IAM Deny forbids it to touch roles on that path).`,
            subject: LOOK_ALIKE,
          },
        ],
        plan: [],
      });
    });

    it("passes the creation of exactly one of the bot's roles, and flags it when the deployment names no bot role", () => {
      const event = loadEvent('iam/CreateRole-bot-own-role-public-trust-exempt.json');
      expect(evaluate(event)).toStrictEqual({
        kind: 'compliant',
        summary: `${IAM_ROLE} is exactly one of the bot's own roles, created by arn:aws:iam::${ACCOUNT}:user/alice (the deployment)`,
        resources: [IAM_ROLE],
      });
      const unnamed = evaluate(event, []);
      expect(unnamed.kind === 'violation' && unnamed.findings[0]?.message).toContain("This deployment names no bot role (BOT_PRINCIPALS is empty), so no role on the path is the bot's.");
    });

    it('reads the path from the request when the response carries no role, and any depth below /remediation-bot/ counts', () => {
      const event = loadEvent('iam/CreateRole-look-alike-role-on-bot-path.json');
      event.detail.responseElements = null;
      event.detail.requestParameters = { ...event.detail.requestParameters, path: '/remediation-bot/tools/' };
      expect(createdRole(event)).toStrictEqual({ arn: `arn:aws:iam::${ACCOUNT}:role/remediation-bot/tools/remediation-bot-prod-us-east-1-helper`, path: '/remediation-bot/tools/' });
      expect(evaluate(event).kind).toBe('violation');
    });

    it.each([
      ['iam/CreateRole-lambda-service-compliant.json', `role arn:aws:iam::${ACCOUNT}:role/invoice-parser is not on the bot's path /remediation-bot/`],
      [
        'iam/CreateRole-external-account-stratus-genuine-urlencoded.json',
        "role arn:aws:iam::609418236337:role/stratus-red-team-malicious-iam-role is not on the bot's path /remediation-bot/",
      ],
    ])('passes %s, off the path', (fixture, summary) => {
      expect(evaluate(loadEvent(fixture))).toMatchObject({ kind: 'compliant', summary });
    });

    it('treats a path that differs in case as another path: IAM paths are case-sensitive, and the bot trusts exact ARNs anyway', () => {
      const event = loadEvent('iam/CreateRole-look-alike-role-on-bot-path.json');
      const arn = `arn:aws:iam::${ACCOUNT}:role/Remediation-Bot/remediation-bot-prod-us-east-1-helper`;
      event.detail.requestParameters = { ...event.detail.requestParameters, path: '/Remediation-Bot/' };
      event.detail.responseElements = { role: { path: '/Remediation-Bot/', roleName: 'remediation-bot-prod-us-east-1-helper', arn } };
      expect(evaluate(event).kind).toBe('compliant');
    });
  });

  describe('in an Organization hub', () => {
    const MEMBER = '444455556666';
    const MEMBER_ROLE = `arn:aws:iam::${MEMBER}:role/remediation-bot/remediation-bot-member-security-groups`;
    const HUB_ROLES = [...BOT_ROLES, `arn:aws:iam::${ACCOUNT}:role/remediation-bot/remediation-bot-prod-us-east-1-security-groups`];

    it('passes the hub\'s function assuming a member role, as the hub account and as the member account record it', () => {
      for (const file of ['sts/AssumeRole-member-role-by-hub-function-in-hub-account.json', 'sts/AssumeRole-member-role-by-hub-function-in-member-account.json']) {
        const verdict = evaluate(loadEvent(file), HUB_ROLES);
        expect(verdict.kind, file).toBe('compliant');
        expect(verdict.kind === 'compliant' && verdict.summary, file).toContain(`assumed the member role ${MEMBER_ROLE} (session name remediation-bot-5d0c7f3e-9a28-4b61-8e0f-3a6b2c1d4e57)`);
      }
    });

    it('flags a member role assumed from any other account, or by a role that is not the bot\'s', () => {
      const fromElsewhere = loadEvent('sts/AssumeRole-member-role-by-hub-function-in-member-account.json');
      fromElsewhere.detail.userIdentity = { ...fromElsewhere.detail.userIdentity, accountId: '777788889999' };
      expect(evaluate(fromElsewhere, HUB_ROLES).kind).toBe('violation');
      const byAnother = loadEvent('sts/AssumeRole-member-role-by-hub-function-in-hub-account.json');
      byAnother.detail.userIdentity = { ...byAnother.detail.userIdentity, sessionContext: { sessionIssuer: { type: 'Role', arn: `arn:aws:iam::${ACCOUNT}:role/Developer` } } };
      expect(evaluate(byAnother, HUB_ROLES).kind).toBe('violation');
    });

    it('tells, at low severity, of a member role created in a member account (the StackSet enrolling it), and says to keep it', () => {
      const event = loadEvent('iam/CreateRole-look-alike-role-on-bot-path.json');
      event.account = MEMBER;
      event.detail.recipientAccountId = MEMBER;
      event.detail.requestParameters = { ...event.detail.requestParameters, roleName: 'remediation-bot-member-security-groups', path: '/remediation-bot/' };
      event.detail.responseElements = { role: { path: '/remediation-bot/', roleName: 'remediation-bot-member-security-groups', arn: MEMBER_ROLE } };
      const verdict = evaluate(event, HUB_ROLES);
      expect(verdict.kind === 'violation' && verdict.findings.map((f) => [f.code, f.severity])).toStrictEqual([['bot-member-role-created', 'low']]);
      expect(verdict.kind === 'violation' && verdict.findings[0]?.message).toContain('That is expected when the member StackSet enrols the account: keep it.');
    });
  });

  describe('AssumeRole', () => {
    it("passes the Lambda service assuming exactly one of the bot's roles", () => {
      expect(evaluate(loadEvent('sts/AssumeRole-bot-role-by-lambda-service.json'))).toStrictEqual({
        kind: 'compliant',
        summary: `the Lambda service assumed the bot's own role ${CREDENTIALS_ROLE} for its function`,
        resources: [CREDENTIALS_ROLE],
      });
    });

    it('flags anyone else assuming a bot role, even with a function name as session name', () => {
      const user = `arn:aws:iam::${ACCOUNT}:user/mallory`;
      expect(evaluate(loadEvent('sts/AssumeRole-bot-role-by-iam-user.json'))).toStrictEqual({
        kind: 'violation',
        summary: `the bot's own role ${CREDENTIALS_ROLE} assumed by ${user}, not by the Lambda service`,
        resources: [CREDENTIALS_ROLE],
        findings: [
          {
            code: 'bot-role-assumed-outside-lambda',
            severity: 'high',
            message: `${user} (from 203.0.113.66) assumed the bot's own role ${CREDENTIALS_ROLE} (session name remediation-bot-prod-credentials): only the Lambda service should. The session holds the bot's write permissions, and its calls made under one of the bot's function names as session name are skipped as the bot's own. Revoke the role's active sessions, check its trust policy, and find out who did it: the bot cannot (its IAM Deny forbids it to touch its own roles).`,
            subject: CREDENTIALS_ROLE,
          },
        ],
        plan: [],
      });
    });

    it('flags another AWS service assuming a bot role: only Lambda runs the bot', () => {
      const event = loadEvent('sts/AssumeRole-bot-role-by-lambda-service.json');
      event.detail.userIdentity = { type: 'AWSService', invokedBy: 'ec2.amazonaws.com' };
      const verdict = evaluate(event);
      expect(verdict.kind === 'violation' && verdict.findings.map((f) => f.code)).toStrictEqual(['bot-role-assumed-outside-lambda']);
    });

    it('flags a look-alike role on the path whoever assumes it, the Lambda service included', () => {
      const verdict = evaluate(loadEvent('sts/AssumeRole-look-alike-role-on-bot-path.json'));
      expect(verdict).toMatchObject({
        kind: 'violation',
        summary: `${LOOK_ALIKE} (on the bot's path, not one of the bot's roles) assumed by arn:aws:sts::${ACCOUNT}:assumed-role/Developer/mallory`,
        resources: [LOOK_ALIKE],
      });
      expect(verdict.kind === 'violation' && verdict.findings.map((f) => [f.code, f.severity])).toStrictEqual([['bot-path-role-assumed', 'high']]);

      const byLambda = loadEvent('sts/AssumeRole-bot-role-by-lambda-service.json');
      byLambda.detail.requestParameters = { ...byLambda.detail.requestParameters, roleArn: LOOK_ALIKE };
      expect(evaluate(byLambda).kind).toBe('violation');
    });

    it('recognises nothing by path or name: with no bot role configured, even the Lambda service on the path is flagged', () => {
      const verdict = evaluate(loadEvent('sts/AssumeRole-bot-role-by-lambda-service.json'), []);
      expect(verdict.kind === 'violation' && verdict.findings[0]?.code).toBe('bot-path-role-assumed');
    });

    it('passes roles off the path (a genuine record)', () => {
      expect(evaluate(loadEvent('sts/AssumeRole-other-role-stratus-genuine-compliant.json'))).toStrictEqual({
        kind: 'compliant',
        summary:
          "arn:aws:iam::900138736586:user/christophe assumed arn:aws:iam::900138736586:role/stratus-red-team-ec2lui-role-idtzskbvtd, which is not on the bot's path /remediation-bot/",
        resources: ['arn:aws:iam::900138736586:role/stratus-red-team-ec2lui-role-idtzskbvtd'],
      });
    });

    it("reads the role from the record's resources when the request has no roleArn, and says it could not inspect a record with neither", () => {
      const event = loadEvent('sts/AssumeRole-bot-role-by-iam-user.json');
      event.detail.requestParameters = { roleSessionName: 'remediation-bot-prod-credentials' };
      expect(assumedRoleArn(event)).toBe(CREDENTIALS_ROLE);
      expect(evaluate(event).kind).toBe('violation');
      Object.assign(event.detail, { resources: [] });
      expect(evaluate(event)).toStrictEqual({
        kind: 'skipped',
        reason: "the AssumeRole record names no role (no roleArn, no role among its resources), so whether it is on the bot's path cannot be told",
      });
    });

    it('leaves a failed AssumeRole (genuine AccessDenied, no requestParameters) to the engine', async () => {
      const decision = await decide(loadEvent('sts/AssumeRole-failed-access-denied-stratus-genuine.json'), botRoleImpostor, {
        config: parseConfig({}, credentialRules),
        env: {},
        facts: offlineFacts,
        now: NOW,
      });
      expect(decision.verdict).toStrictEqual({ kind: 'skipped', reason: 'the call failed (AccessDenied), so it changed nothing', cause: 'failed-call' });
    });
  });

  describe('through decide, with the roles the deployment passes', () => {
    it('takes the bot roles from BOT_PRINCIPALS, exact ARNs only', async () => {
      const context = { config: parseConfig({}, credentialRules), facts: offlineFacts, now: NOW };
      const event = loadEvent('sts/AssumeRole-bot-role-by-lambda-service.json');
      const trusted = await decide(event, botRoleImpostor, { ...context, env: { BOT_PRINCIPALS: BOT_ROLES.join(',') } });
      expect([trusted.mode, trusted.verdict.kind, trusted.severity]).toStrictEqual(['notify', 'compliant', 'low']);
      const pattern = await decide(event, botRoleImpostor, { ...context, env: { BOT_PRINCIPALS: `arn:aws:iam::${ACCOUNT}:role/remediation-bot/*` } });
      expect([pattern.verdict.kind, pattern.severity]).toStrictEqual(['violation', 'high']);
    });
  });
});
