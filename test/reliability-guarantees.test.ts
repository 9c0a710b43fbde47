/**
 * The bot's guarantees, checked over every rule in the registry and every
 * recorded event in `events/`, so each new rule and fixture is covered without
 * a line here. Plans are decided twice: offline (every lookup unavailable, as
 * in a replay) and live with lookups that find nothing remarkable.
 */
import { isDeepStrictEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { undoCommandTable } from '../cli/undo.js';
import { liveFacts } from '../engine/aws.js';
import { parseConfig } from '../engine/config.js';
import { decide, offlineFacts, type FactSource } from '../engine/decide.js';
import { ruleMatches } from '../engine/patterns.js';
import { parseEvent, type CloudTrailEvent } from '../engine/event.js';
import { type EngineDeps, type EngineLogger } from '../engine/lambda.js';
import { processEvent } from './helpers/engine.js';
import { writeCount } from '../engine/outcome.js';
import { isWaitStep, type Plan, type PlanStep, type Rule } from '../engine/types.js';
import { allRules, rulesByFamily } from '../remediations/registry.js';
import { allFixtureNames, loadEvent } from './helpers/fixtures.js';
import { recordingLogger } from './helpers/logger.js';
import { BIG_POLICY, DEEP_POLICY } from './helpers/hostile-input.js';
import { assertScopedToEvent, eventSources } from './helpers/plan-scope.js';
import { recordingGateway, writeCalls } from './helpers/recording-gateway.js';

const ACCOUNT = '111122223333';
const TOPIC = `arn:aws:sns:us-east-1:${ACCOUNT}:remediation-bot-test-alerts`;
const remediateAll = (rules: readonly Rule[]) => parseConfig({ rules: Object.fromEntries(rules.map((rule) => [rule.id, { mode: 'remediate' }])) }, rules);

const fixtures = allFixtureNames().flatMap((name) => {
  const parsed = parseEvent(loadEvent(name));
  return parsed.success ? [{ name, event: parsed.event }] : [];
});

interface Violation {
  readonly label: string;
  readonly rule: Rule;
  readonly event: CloudTrailEvent;
  readonly plan: Plan;
  readonly proposal: Plan;
}

/** Every violation of every rule on every fixture, offline and with live lookups that return empty answers. */
async function allViolations(): Promise<Violation[]> {
  const config = remediateAll(allRules);
  const sources: [string, FactSource][] = [
    ['offline', offlineFacts],
    ['live', liveFacts(recordingGateway())],
  ];
  const found: Violation[] = [];
  for (const { name, event } of fixtures) {
    for (const rule of allRules.filter((r) => ruleMatches(r, event))) {
      for (const [facts, source] of sources) {
        const { verdict } = await decide(event, rule, { config, env: {}, facts: source, now: new Date('2025-01-01T00:00:00Z') });
        if (verdict.kind !== 'violation') continue;
        found.push({ label: `${rule.id} on ${name} (${facts})`, rule, event, plan: verdict.plan, proposal: verdict.proposal ?? [] });
      }
    }
  }
  return found;
}

const violations = await allViolations();
const callSteps = (plan: Plan) => plan.filter((step) => !isWaitStep(step));
const key = (step: Pick<PlanStep, 'service' | 'operation'>) => `${step.service}:${step.operation}`;

/** A policy document as data: JSON text (URL-encoded as IAM records it, or not) or an already parsed object. */
function documentValue(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  let text = value;
  if (/^\s*%7B/i.test(text)) {
    try {
      text = decodeURIComponent(text);
    } catch {
      return value;
    }
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return value;
  }
}

/** Whether a document equals a document the event's request carries (the policy the call set). */
function documentFromEvent(document: unknown, event: CloudTrailEvent): boolean {
  const wanted = documentValue(document);
  if (wanted === undefined || wanted === null || typeof wanted !== 'object') return false;
  return Object.values(event.detail.requestParameters ?? {}).some((value) => isDeepStrictEqual(documentValue(value), wanted));
}

/**
 * The deletes the bot may make or propose: a policy (configuration, not
 * data), and only when the undo puts back exactly the document from the event.
 */
const POLICY_DELETES: Readonly<Record<string, { undo: string; document: string }>> = {
  'iam:DeleteRolePolicy': { undo: 'iam:PutRolePolicy', document: 'PolicyDocument' },
  'iam:DeleteUserPolicy': { undo: 'iam:PutUserPolicy', document: 'PolicyDocument' },
  'iam:DeleteGroupPolicy': { undo: 'iam:PutGroupPolicy', document: 'PolicyDocument' },
  's3:DeleteBucketPolicy': { undo: 's3:PutBucketPolicy', document: 'Policy' },
};

/**
 * The other deletes: a network ACL entry (an access rule, not data), only
 * when the undo recreates, under the same key, exactly the entry the event made.
 */
const ENTRY_DELETES: Readonly<Record<string, { undo: string; fromEvent: Readonly<Record<string, string>> }>> = {
  'ec2:DeleteNetworkAclEntry': { undo: 'ec2:CreateNetworkAclEntry', fromEvent: { CidrBlock: 'cidrBlock', Ipv6CidrBlock: 'ipv6CidrBlock', RuleAction: 'ruleAction', Protocol: 'aclProtocol' } },
};

function entryDeleteProblem(step: PlanStep, event: CloudTrailEvent): string | undefined {
  const allowed = ENTRY_DELETES[key(step)];
  if (!allowed) return `${key(step)} deletes something that is not a policy`;
  if (!step.undo || key(step.undo) !== allowed.undo) return `${key(step)} has no ${allowed.undo} undo`;
  for (const [name, value] of Object.entries(step.input)) {
    if (step.undo.input[name] !== value) return `${key(step)}'s undo does not recreate the same ${name}`;
  }
  for (const [name, member] of Object.entries(allowed.fromEvent)) {
    if (step.undo.input[name] !== event.detail.requestParameters?.[member]) return `${key(step)}'s undo does not recreate the event's ${member}`;
  }
  return undefined;
}

function deleteProblem(step: PlanStep, event: CloudTrailEvent): string | undefined {
  if (!step.operation.startsWith('Delete')) return undefined;
  if (!POLICY_DELETES[key(step)]) return entryDeleteProblem(step, event);
  const allowed = POLICY_DELETES[key(step)];
  if (!allowed) return `${key(step)} deletes something that is not a policy`;
  if (!step.undo || key(step.undo) !== allowed.undo) return `${key(step)} has no ${allowed.undo} undo`;
  for (const [name, value] of Object.entries(step.input)) {
    if (step.undo.input[name] !== value) return `${key(step)}'s undo does not put back the same ${name}`;
  }
  if (!documentFromEvent(step.undo.input[allowed.document], event)) return `${key(step)}'s undo does not restore the exact document from the event`;
  return undefined;
}

const DENY_ALL = /^arn:aws[a-z-]*:iam::aws:policy\/AWSDenyAll$/;
const PUBLIC_GRANTEES = /acs\.amazonaws\.com\/groups\/global\/(AllUsers|AuthenticatedUsers)/;

/**
 * "Widens access", precisely: a step that grants a principal anything, makes a
 * resource more public, or switches a protection off.
 */
function widening(step: PlanStep): string | undefined {
  const { service, operation, input } = step;
  const op = key(step);
  if (/^Authorize/.test(operation)) return `${op} opens network access`;
  if (/^Add/.test(operation)) return `${op} adds a member or a permission`;
  if (/^Attach\w*Policy$/.test(operation)) return DENY_ALL.test(String(input['PolicyArn'])) ? undefined : `${op} attaches a policy that is not AWSDenyAll`;
  if (/^Put\w*Policy$/.test(operation)) return `${op} writes a permission policy`;
  if (/^Create(AccessKey|LoginProfile|PolicyVersion|ServiceSpecificCredential|Grant)$/.test(operation)) return `${op} creates credentials or grants`;
  if (/^(UpdateAssumeRolePolicy|SetDefaultPolicyVersion|UpdateLoginProfile)$/.test(operation)) return `${op} changes what an identity may do`;
  if (service === 'iam' && operation === 'UpdateAccessKey' && input['Status'] === 'Active') return `${op} reactivates a key`;
  if (/^Modify(Snapshot|Image)Attribute$/.test(operation)) {
    const permission = (input['CreateVolumePermission'] ?? input['LaunchPermission']) as { Add?: unknown[] } | undefined;
    if (input['OperationType'] === 'add' || (permission?.Add?.length ?? 0) > 0) return `${op} shares a snapshot or image`;
  }
  if (op === 's3:PutBucketAcl') {
    if (/^(public-read|public-read-write|authenticated-read)$/.test(String(input['ACL'] ?? ''))) return `${op} sets a public canned ACL`;
    if (PUBLIC_GRANTEES.test(JSON.stringify(input['AccessControlPolicy'] ?? {}))) return `${op} grants to all users`;
  }
  if (/PutPublicAccessBlock$/.test(operation)) {
    // The call replaces the whole configuration; the undo holds the one before. Widening is turning off a block that was on.
    const after = (input['PublicAccessBlockConfiguration'] ?? {}) as Record<string, unknown>;
    const before = (step.undo?.input['PublicAccessBlockConfiguration'] ?? {}) as Record<string, unknown>;
    const turnedOff = Object.keys(before).filter((flag) => before[flag] === true && after[flag] !== true);
    if (turnedOff.length > 0) return `${op} turns off ${turnedOff.join(', ')}`;
  }
  if (op === 'ec2:ModifyInstanceMetadataOptions' && input['HttpTokens'] === 'optional') return `${op} allows IMDSv1`;
  if (op === 'guardduty:UpdateDetector' && input['Enable'] === false) return `${op} suspends GuardDuty`;
  if (op === 's3:PutBucketEncryption' && !/"SSEAlgorithm":"aws:kms/.test(JSON.stringify(input))) return `${op} sets no KMS encryption`;
  const switchesOff = [
    's3:DeletePublicAccessBlock',
    's3control:DeletePublicAccessBlock',
    'ec2:DisableEbsEncryptionByDefault',
    'ec2:DisableImageBlockPublicAccess',
    'ec2:DisableSnapshotBlockPublicAccess',
    'ec2:EnableSerialConsoleAccess',
    'cloudtrail:StopLogging',
    'cloudtrail:DeleteTrail',
    'configservice:StopConfigurationRecorder',
    'kms:DisableKey',
    'kms:DisableKeyRotation',
    'kms:ScheduleKeyDeletion',
  ];
  if (switchesOff.includes(op)) return `${op} switches a protection off`;
  return undefined;
}

/**
 * Proposals are reviewed and run by a person, and may rewrite a policy
 * without its open statements; they still never grant by themselves.
 */
function grantingProposal(step: PlanStep): string | undefined {
  const reason = widening(step);
  if (reason === undefined) return undefined;
  return /writes a permission policy|changes what an identity may do/.test(reason) ? undefined : reason;
}

/** Applied steps that nothing reverses, each with the reason a person reads. */
const IRREVERSIBLE: Readonly<Record<string, string>> = {
  'sagemaker:StopTrainingJob': 'a stopped training job cannot be resumed; it is re-run from its definition',
  'sagemaker:StopProcessingJob': 'a stopped processing job cannot be resumed; it is re-run from its definition',
  'sagemaker:StopHyperParameterTuningJob': 'a stopped tuning job cannot be resumed; it is re-run from its definition',
};

describe('guarantees over every rule and every recorded event', () => {
  it('has violations to check', () => {
    expect(violations.length).toBeGreaterThan(0);
  });

  it('never deletes data: no plan or proposal deletes anything but a policy or a network ACL entry whose undo puts back exactly what the event made', () => {
    const problems = violations.flatMap(({ label, event, plan, proposal }) =>
      [...plan, ...proposal].flatMap((step) => {
        const problem = deleteProblem(step, event);
        return problem ? [`${label}: ${problem}`] : [];
      }),
    );
    expect(problems).toStrictEqual([]);
  });

  it('never widens access: no applied plan grants access or switches a protection off (AWSDenyAll is the one attachment)', () => {
    const problems = violations.flatMap(({ label, plan }) =>
      callSteps(plan).flatMap((step) => {
        const reason = widening(step);
        return reason ? [`${label}: ${reason}`] : [];
      }),
    );
    expect(problems).toStrictEqual([]);
  });

  it('never widens access: no proposal opens ingress, adds members, shares, creates credentials or attaches anything but AWSDenyAll', () => {
    const problems = violations.flatMap(({ label, proposal }) =>
      callSteps(proposal).flatMap((step) => {
        const reason = grantingProposal(step);
        return reason ? [`${label}: ${reason}`] : [];
      }),
    );
    expect(problems).toStrictEqual([]);
  });

  it('undo for every applied change: every plan step that changes state has an undo or is explicitly marked irreversible', () => {
    const problems = violations.flatMap(({ label, plan }) =>
      callSteps(plan)
        .filter((step) => step.undo === undefined && step.alreadyDone === undefined && IRREVERSIBLE[key(step)] === undefined)
        .map((step) => `${label}: ${key(step)} has no undo`),
    );
    expect(problems).toStrictEqual([]);
  });

  it('undo for every applied change: `remediate undo` can send every undo step (its SDK command exists)', async () => {
    const undoSteps = violations.flatMap(({ plan }) => callSteps(plan).flatMap((step) => (step.undo ? [step.undo] : [])));
    for (const undo of undoSteps) {
      const table = undoCommandTable([undo]);
      expect(table.commands[key(undo)], key(undo)).toBeTypeOf('function');
      expect(table.clients[undo.service], undo.service).toBeTypeOf('function');
    }
  });

  it('at-least-once safe: every revoke, delete, detach or remove step counts "already gone" as done', () => {
    const required: readonly [RegExp, string][] = [
      [/^ec2:Revoke/, 'InvalidPermission.NotFound'],
      [/^iam:(Delete|Detach)/, 'NoSuchEntity'],
    ];
    const problems = violations.flatMap(({ label, plan }) =>
      callSteps(plan)
        .filter((step) => /^(Revoke|Delete|Detach|Remove|Disassociate)/.test(step.operation))
        .flatMap((step) => {
          const codes = step.alreadyDoneCodes ?? [];
          if (codes.length === 0) return [`${label}: ${key(step)} declares no "already done" error code`];
          return required.filter(([pattern, code]) => pattern.test(key(step)) && !codes.includes(code)).map(([, code]) => `${label}: ${key(step)} lacks ${code}`);
        }),
    );
    expect(problems).toStrictEqual([]);
  });

  it('touches only the resources the event names: every step of every plan and proposal', () => {
    const problems = violations.flatMap(({ label, event, plan, proposal }) => {
      try {
        assertScopedToEvent([...plan, ...proposal], eventSources(event), label);
        return [];
      } catch (error) {
        return [error instanceof Error ? error.message : String(error)];
      }
    });
    expect(problems).toStrictEqual([]);
  });
});

const families = Object.entries(rulesByFamily) as [string, readonly Rule[]][];

/** The function key and names the deployment gives a family's function (see deploy/deployment.ts). */
function botNames(family: string): { role: string; session: string } {
  const key = family.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
  return { role: `remediation-bot-prod-us-east-1-${key}`, session: `remediation-bot-prod-${key}` };
}

/** The event as if `roleArn` had made the call, in an assumed-role session named `session`. */
function asRole(event: CloudTrailEvent, roleName: string, path: string, session: string): CloudTrailEvent {
  return {
    ...event,
    detail: {
      ...event.detail,
      errorCode: undefined,
      userIdentity: {
        type: 'AssumedRole',
        principalId: `AROAEXAMPLEBOTROLE0001:${session}`,
        arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${roleName}/${session}`,
        accountId: ACCOUNT,
        sessionContext: {
          sessionIssuer: { type: 'Role', principalId: 'AROAEXAMPLEBOTROLE0001', arn: `arn:aws:iam::${ACCOUNT}:role${path}${roleName}`, accountId: ACCOUNT, userName: roleName },
        },
      },
    },
  };
}

/** What the deployment passes every function: the exact ARNs of the bot's roles and the session names Lambda gives them. */
function botEnv(family: string): Record<string, string> {
  const { role, session } = botNames(family);
  return { BOT_PRINCIPALS: `arn:aws:iam::${ACCOUNT}:role/remediation-bot/${role}`, BOT_SESSION_NAMES: session };
}

const silentLogger: EngineLogger = { info: () => undefined, warn: () => undefined, error: () => undefined, appendKeys: () => undefined, removeKeys: () => undefined };

/** The fixtures each family's rules receive, with at least one violation among them (so a broken guard shows). */
function fixturesFor(rules: readonly Rule[]) {
  return fixtures.filter(({ event }) => rules.some((rule) => ruleMatches(rule, event)));
}

// Mutations these tests catch (each was tried): the own-call skip removed from `engineSkip`; the own-call check
// reduced to the IAM path or the role name; the `errorCode` skip removed; `act` answering `none` for a rule's skip.
describe('no loops', () => {
  it.each(families)("no loops: the bot's own calls never trigger the %s handler, on any recorded event (no AWS call, no alert)", async (family, rules) => {
    const gateway = recordingGateway();
    const deps: EngineDeps = { rules, config: remediateAll(rules), env: { ...botEnv(family), ALERT_TOPIC_ARN: TOPIC }, gateway, logger: silentLogger };
    const { role, session } = botNames(family);
    for (const { name, event } of fixturesFor(rules)) {
      const result = await processEvent(asRole(event, role, '/remediation-bot/', session), deps);
      expect(gateway.calls, name).toStrictEqual([]);
      expect(result.status === 'processed' && result.decisions.every((d) => d.verdict === 'skipped' && d.outcome === 'none'), name).toBe(true);
    }
  });

  it.each(families)('the bot is its exact roles: a role that copies its path and name pattern is judged like anyone else by the %s handler', async (family, rules) => {
    const gateway = recordingGateway();
    const deps: EngineDeps = { rules, config: remediateAll(rules), env: { ...botEnv(family), ALERT_TOPIC_ARN: TOPIC }, gateway, logger: silentLogger };
    const { role, session } = botNames(family);
    let judged = 0;
    for (const { name, event } of fixturesFor(rules)) {
      for (const shadow of [asRole(event, `${role}-x`, '/remediation-bot/', session), asRole(event, role, '/remediation-bot/', `${session}-x`)]) {
        const result = await processEvent(shadow, deps);
        const ownCall = result.status === 'processed' && result.decisions.some((d) => d.summary.startsWith('the call was made by the bot itself'));
        expect(ownCall, name).toBe(false);
        judged += 1;
      }
    }
    expect(judged).toBeGreaterThan(0);
  });
});

describe('never acts on a failed call', () => {
  it.each(families)('never acts on a failed call: the %s handler makes no AWS call and sends no alert for any recorded event that failed', async (_, rules) => {
    const gateway = recordingGateway();
    const deps: EngineDeps = { rules, config: remediateAll(rules), env: { ALERT_TOPIC_ARN: TOPIC }, gateway, logger: silentLogger };
    for (const { name, event } of fixturesFor(rules)) {
      const failed = { ...event, detail: { ...event.detail, errorCode: 'Client.UnauthorizedOperation', errorMessage: 'You are not authorized to perform this operation.', responseElements: null } };
      const result = await processEvent(failed, deps);
      expect(gateway.calls, name).toStrictEqual([]);
      expect(result.status === 'processed' && result.decisions.every((d) => d.verdict === 'skipped' && d.outcome === 'none'), name).toBe(true);
    }
  });
});

describe('silence is never an outcome', () => {
  it.each(families)('every decision of the %s handler that is neither compliant nor an expected skip alerts, on every recorded event', async (family, rules) => {
    for (const mode of ['propose', 'remediate'] as const) {
      const gateway = recordingGateway();
      const config = parseConfig({ rules: Object.fromEntries(rules.map((rule) => [rule.id, { mode }])) }, rules);
      const deps: EngineDeps = { rules, config, env: { ...botEnv(family), ALERT_TOPIC_ARN: TOPIC }, gateway, logger: silentLogger };
      for (const { name, event } of fixturesFor(rules)) {
        gateway.reset();
        const result = await processEvent(event, deps);
        if (result.status !== 'processed') continue;
        const alerts = gateway.calls.filter((call) => call.service === 'sns').length;
        const quiet = result.decisions.filter((d) => d.verdict === 'compliant' || (d.verdict === 'skipped' && d.outcome === 'none'));
        expect(alerts, `${name} (${mode})`).toBe(result.decisions.length - quiet.length);
        for (const d of result.decisions) {
          if (d.verdict === 'skipped' && d.outcome === 'none') expect(d.summary, `${name} (${mode})`).toMatch(/^(the call failed|the call was made by the bot itself|principal .* is ignored by config|rule is off)/);
        }
      }
    }
  });

  it('a rule that throws is an alert ("could not inspect") and a RuleFailed metric, never a silent skip', async () => {
    const throwing: Rule = {
      id: 'throwing-rule',
      title: 'A rule that throws',
      severity: 'high',
      rationale: 'test',
      family: 'security-groups',
      triggers: [{ eventSource: 'ec2.amazonaws.com', eventNames: ['AuthorizeSecurityGroupIngress'] }],
      permissions: [],
      evaluate: () => {
        throw new TypeError('cannot read properties of undefined');
      },
    };
    const gateway = recordingGateway();
    const counted: string[] = [];
    const result = await processEvent(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), {
      rules: [throwing],
      config: parseConfig({}, [throwing]),
      env: { ALERT_TOPIC_ARN: TOPIC },
      gateway,
      logger: silentLogger,
      metrics: { count: (metric, rule) => void counted.push(rule ? `${metric}/${rule}` : metric) },
    });
    expect(result.status === 'processed' && result.decisions.map((d) => [d.verdict, d.outcome])).toStrictEqual([['skipped', 'uninspected']]);
    expect(gateway.calls.map((call) => `${call.service}:${call.operation}`)).toStrictEqual(['sns:Publish']);
    expect(String(gateway.calls[0]?.input['Subject'])).toMatch(/^\[HIGH\] COULD NOT INSPECT: /);
    expect(counted).toEqual(expect.arrayContaining(['Skipped/throwing-rule', 'Skipped', 'RuleFailed/throwing-rule', 'RuleFailed']));
  });
});

// Mutation caught: the `maxWritesPerInvocation` check removed from `act` in engine/lambda.ts (both tests below fail).
describe('bounded blast radius', () => {
  /** Each violation whose family handler would write, run with a budget one write short (waits and steps already in place are not writes). */
  const capped = violations.filter(({ label, plan }) => label.endsWith('(live)') && writeCount(plan) > 0);

  it('bounded blast radius: a plan with more write calls than maxWritesPerInvocation is proposed, not applied, and the alert says why', async () => {
    expect(capped.length).toBeGreaterThan(0);
    for (const { label, rule, event, plan } of capped) {
      const gateway = recordingGateway();
      const config = parseConfig({ maxWritesPerInvocation: writeCount(plan) - 1, rules: { [rule.id]: { mode: 'remediate' } } }, [rule]);
      const result = await processEvent(event, { rules: [rule], config, env: { ALERT_TOPIC_ARN: TOPIC }, gateway, logger: silentLogger, now: () => new Date('2025-01-01T00:00:00Z') });
      expect(writeCalls(gateway.calls, [rule]), label).toStrictEqual([]);
      // Proposed, or, when the read of the present (which answers nothing here) shows it closed or changed, said so.
      expect(result.status === 'processed' && result.decisions.map((d) => ['proposed', 'already-fixed', 'stale'].includes(d.outcome)), label).toStrictEqual([true]);
      const alert = gateway.calls.find((call) => call.service === 'sns');
      expect(String(alert?.input['Message']), label).toContain(`maxWritesPerInvocation ${writeCount(plan) - 1}`);
    }
  });

  it('bounded blast radius: the budget is shared by every rule an event triggers, so one event never makes more writes than the cap', async () => {
    const revoke = (group: string): PlanStep => ({
      service: 'ec2',
      operation: 'RevokeSecurityGroupIngress',
      input: { GroupId: group, SecurityGroupRuleIds: ['sgr-01111111111111111'] },
      reason: 'test',
      alreadyDoneCodes: ['InvalidPermission.NotFound'],
    });
    const twoWrites = (id: string): Rule => ({
      id,
      title: `two writes ${id}`,
      severity: 'high',
      rationale: 'test rule',
      family: 'security-groups',
      triggers: [{ eventSource: 'ec2.amazonaws.com', eventNames: ['AuthorizeSecurityGroupIngress'] }],
      permissions: [],
      evaluate: () => ({ kind: 'violation', summary: id, resources: [], findings: [], plan: [revoke('sg-0a1b2c3d4e5f67890'), revoke('sg-0fedcba9876543210')] }),
    });
    const rules = [twoWrites('first-rule'), twoWrites('second-rule')];
    const gateway = recordingGateway();
    const config = parseConfig({ maxWritesPerInvocation: 3, rules: { 'first-rule': { mode: 'remediate' }, 'second-rule': { mode: 'remediate' } } }, rules);
    const logger = recordingLogger();
    const result = await processEvent(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), { rules, config, env: { ALERT_TOPIC_ARN: TOPIC }, gateway, logger });
    expect(writeCalls(gateway.calls, rules)).toHaveLength(2);
    // The first plan ran (its steps declare no verification read, so it is reported unverified); the second is only proposed.
    expect(result.status === 'processed' && result.decisions.map((d) => [d.rule, d.outcome])).toStrictEqual([
      ['first-rule', 'unverified'],
      ['second-rule', 'proposed'],
    ]);
  });
});

describe('hostile policy documents', () => {
  /** Request fields that carry a policy document as text (IAM's `policyDocument`, KMS's `policy`, …). */
  const documentFields = fixtures.flatMap(({ name, event }) =>
    event.detail.errorCode ? [] : Object.entries(event.detail.requestParameters ?? {}).flatMap(([field, value]) => {
      const document = documentValue(value);
      return typeof value === 'string' && typeof document === 'object' && document !== null && 'Statement' in document ? [{ name, field }] : [];
    }),
  );

  it('has policy documents to replace', () => {
    expect(documentFields.length).toBeGreaterThan(0);
  });

  // Mutation caught: `guardVerdict` removed from `decide` (the 10,000-deep plan below then reaches the executor).
  it("judges policy documents larger than IAM's limits or nested 10,000 deep without a crash or a write, and never silently", async () => {
    for (const [family, rules] of families) {
      for (const { name, field } of documentFields) {
        for (const [label, document] of [
          ['200 KB', BIG_POLICY],
          ['10,000-deep', DEEP_POLICY],
        ] as const) {
          const event = loadEvent(name);
          (event.detail.requestParameters as Record<string, unknown>)[field] = document;
          const gateway = recordingGateway();
          const result = await processEvent(event, { rules, config: remediateAll(rules), env: { ALERT_TOPIC_ARN: TOPIC }, gateway, logger: silentLogger });
          const where = `${family} handler, ${name}, ${field} = ${label} document`;
          expect(writeCalls(gateway.calls, rules), where).toStrictEqual([]);
          const silent = result.status === 'processed' ? result.decisions.filter((d) => d.verdict === 'skipped' && d.outcome === 'none') : [];
          expect(silent, where).toStrictEqual([]);
        }
      }
    }
  });

  it('withholds a plan whose input is nested too deep to run or show: the violation still alerts, nothing is sent', async () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 10_000; i += 1) deep = [deep];
    const hostile: Rule = {
      id: 'copies-hostile-data',
      title: 'A rule that copies request data into its plan',
      severity: 'high',
      rationale: 'test',
      family: 'security-groups',
      triggers: [{ eventSource: 'ec2.amazonaws.com', eventNames: ['AuthorizeSecurityGroupIngress'] }],
      permissions: [],
      evaluate: () => ({
        kind: 'violation',
        summary: 'open',
        resources: ['sg-0a1b2c3d4e5f67890'],
        findings: [{ code: 'open', severity: 'high', message: 'open' }],
        plan: [{ service: 'ec2', operation: 'RevokeSecurityGroupIngress', input: { GroupId: 'sg-0a1b2c3d4e5f67890', IpPermissions: deep }, reason: 'close' }],
      }),
    };
    const gateway = recordingGateway();
    const counted: string[] = [];
    const result = await processEvent(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), {
      rules: [hostile],
      config: remediateAll([hostile]),
      env: { ALERT_TOPIC_ARN: TOPIC },
      gateway,
      logger: silentLogger,
      metrics: { count: (name, rule) => void counted.push(rule ? `${name}/${rule}` : name) },
    });
    expect(counted).toContain('InvalidInput/copies-hostile-data');
    expect(gateway.calls.map((call) => `${call.service}:${call.operation}`)).toStrictEqual(['sns:Publish']);
    expect(result.status === 'processed' && result.decisions.map((d) => [d.verdict, d.outcome])).toStrictEqual([['violation', 'notified']]);
    expect(String(gateway.calls[0]?.input['Message'])).toContain('nested more than 32 levels deep');
  });
});
