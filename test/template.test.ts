/**
 * CI checks on the template that `npx serverless package` produced offline
 * (the vitest global setup runs it for us-east-1 and eu-west-1).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { familyDeploysIn, familyKey, familyPattern, loadDeployConfig, stackValues, statementsFor } from '../deploy/deployment.js';
import { ruleMatches } from '../engine/patterns.js';
import { compilePattern, type EventPattern } from '../engine/pattern-match.js';
import { analyzePermissionsPolicy } from '../engine/policy/analyzer.js';
import type { Rule } from '../engine/types.js';
import { rulesByFamily, type DeployedFamily } from '../remediations/registry.js';
import { allFixtureNames, loadEvent } from './helpers/fixtures.js';
import { describePackaged, packagedTemplate } from './helpers/packaged.js';

interface Resource {
  Type: string;
  Condition?: string;
  Properties: Record<string, unknown>;
}
type Template = { Resources: Record<string, Resource> };

const loadTemplate = (dir: string) => packagedTemplate<Template>(dir);

const usEast1 = loadTemplate('.serverless');
const CONFIG_FILE = join(import.meta.dirname, '..', 'remediation.config.yml');
/** The config the default package embeds: every rule in its default mode, `propose` for most. */
const defaultConfig = loadDeployConfig(CONFIG_FILE);
const euWest1 = loadTemplate('.serverless-eu-west-1');
const ofType = (template: Template, type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);

function functionLogicalId(family: string): string {
  const key = familyKey(family);
  return `${key.charAt(0).toUpperCase()}${key.slice(1)}LambdaFunction`;
}

function eventRulesTargeting(template: Template, logicalId: string): Resource[] {
  return ofType(template, 'AWS::Events::Rule')
    .map(([, r]) => r)
    .filter((r) => JSON.stringify(r.Properties['Targets']).includes(`"${logicalId}"`));
}

/** CloudFormation references in policies, replaced by concrete ARNs so the IAM analyzer reads them like IAM would. */
function concrete(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(concrete);
  if (typeof value !== 'object' || value === null) return value;
  const record = value as Record<string, unknown>;
  if ('Fn::Sub' in record) {
    return String(record['Fn::Sub']).replaceAll('${AWS::Partition}', 'aws').replaceAll('${AWS::Region}', 'us-east-1').replaceAll('${AWS::AccountId}', '111122223333');
  }
  if ('Ref' in record) return `arn:aws:sns:us-east-1:111122223333:${String(record['Ref'])}`;
  if ('Fn::GetAtt' in record) return `arn:aws:sqs:us-east-1:111122223333:${String((record['Fn::GetAtt'] as string[])[0])}`;
  if ('Fn::If' in record) return concrete((record['Fn::If'] as unknown[])[1]);
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [k, concrete(v)]));
}

function rolePolicies(template: Template): { role: string; document: { Statement: { Action: string | string[] }[] } }[] {
  return ofType(template, 'AWS::IAM::Role').flatMap(([role, r]) =>
    ((r.Properties['Policies'] as { PolicyDocument: { Statement: { Action: string | string[] }[] } }[] | undefined) ?? []).map((p) => ({
      role,
      document: p.PolicyDocument,
    })),
  );
}

describePackaged('packaged CloudFormation template', () => {
  describe.each((Object.keys(rulesByFamily) as DeployedFamily[]).filter((f) => familyDeploysIn(f, 'us-east-1')))('family %s', (family) => {
    const rules = eventRulesTargeting(usEast1, functionLogicalId(family));

    it('deploys exactly the EventBridge pattern the registry derives', () => {
      expect(rules).toHaveLength(1);
      expect(rules[0]?.Properties['EventPattern']).toStrictEqual(JSON.parse(JSON.stringify(familyPattern(family))));
    });

    it('matches with the deployed pattern every fixture its rules match', () => {
      const deployed = compilePattern(rules[0]?.Properties['EventPattern'] as EventPattern);
      for (const name of allFixtureNames()) {
        const event = loadEvent(name);
        expect(deployed(event), name).toBe(rulesByFamily[family].some((rule) => ruleMatches(rule, event)));
      }
    });

    it("gives the family's role exactly the statements the registry derives for the deployed modes: reads, and writes only for rules in remediate", () => {
      const key = familyKey(family);
      const policies = usEast1.Resources[`${key.charAt(0).toUpperCase()}${key.slice(1)}Role`]?.Properties['Policies'] as { PolicyName: string; PolicyDocument: { Statement: unknown[] } }[];
      // A family with nothing to read or write (exemptions) gets no remediation policy at all.
      const remediation = policies.find((p) => p.PolicyName === 'remediation');
      expect(remediation?.PolicyDocument.Statement ?? []).toStrictEqual(JSON.parse(JSON.stringify(statementsFor(rulesByFamily[family], defaultConfig))));
    });

    it('gives the EventBridge target a retry policy and a dead-letter queue', () => {
      const target = (rules[0]?.Properties['Targets'] as Record<string, unknown>[])[0];
      expect(target?.['RetryPolicy']).toStrictEqual({ MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 8 });
      expect(target?.['DeadLetterConfig']).toStrictEqual({ Arn: { 'Fn::GetAtt': ['EventsDeadLetterQueue', 'Arn'] } });
    });
  });

  it.each([['us-east-1', usEast1], ['eu-west-1', euWest1]] as const)('never grants a wildcard action to a function role (%s)', (_, template) => {
    const actions = rolePolicies(template).flatMap(({ document }) => document.Statement.flatMap((s) => [s.Action].flat()));
    expect(actions.length).toBeGreaterThan(0);
    for (const action of actions) {
      expect(action).not.toBe('*');
      expect(action).not.toMatch(/\*/);
    }
  });

  it('passes its own least-privilege rule: the IAM analyzer finds nothing in any function role', () => {
    for (const { role, document } of rolePolicies(usEast1)) {
      const analysis = analyzePermissionsPolicy(JSON.stringify(concrete(document)));
      expect(analysis.ok, role).toBe(true);
      expect(analysis.ok && analysis.findings, role).toStrictEqual([]);
    }
  });

  it('sends every function asynchronous failure to an on-failure destination', () => {
    const functions = ofType(usEast1, 'AWS::Lambda::Function').map(([id]) => id);
    const configs = ofType(usEast1, 'AWS::Lambda::EventInvokeConfig').map(([, r]) => r.Properties);
    expect(functions.length).toBeGreaterThan(0);
    for (const id of functions) {
      const config = configs.find((c) => JSON.stringify(c['FunctionName']).includes(`"${id}"`));
      expect(config?.['DestinationConfig'], id).toStrictEqual({ OnFailure: { Destination: { 'Fn::GetAtt': ['FailureQueue', 'Arn'] } } });
    }
  });

  it('encrypts every queue and topic with KMS', () => {
    const encrypted = [...ofType(usEast1, 'AWS::SQS::Queue'), ...ofType(usEast1, 'AWS::SNS::Topic')];
    expect(encrypted.length).toBeGreaterThanOrEqual(3);
    for (const [id, resource] of encrypted) expect(resource.Properties['KmsMasterKeyId'], id).toStrictEqual({ 'Fn::GetAtt': ['RemediationKey', 'Arn'] });
    const key = usEast1.Resources['RemediationKey']?.Properties;
    expect(key?.['EnableKeyRotation']).toBe(true);
  });

  it('gives every log group a retention (90 days by default)', () => {
    const groups = ofType(usEast1, 'AWS::Logs::LogGroup');
    expect(groups.length).toBeGreaterThan(0);
    for (const [id, group] of groups) expect(group.Properties['RetentionInDays'], id).toBe(90);
  });

  // eu-west-1 is packaged with a Slack webhook secret: its template holds the notifier.
  it.each([['us-east-1', usEast1], ['eu-west-1', euWest1]] as const)('alarms on errors and throttles of every function, the notifier included, and on the depth of both queues, to the alert topic (%s)', (_, template) => {
    const alarms = ofType(template, 'AWS::CloudWatch::Alarm').map(([, r]) => r.Properties);
    const watched = alarms.map((a) => `${String(a['MetricName'])}:${JSON.stringify(a['Dimensions'])}`);
    const functions = ofType(template, 'AWS::Lambda::Function');
    expect(functions.map(([id]) => id).includes('NotifierLambdaFunction')).toBe(template === euWest1);
    for (const [id, fn] of functions) {
      for (const metric of ['Errors', 'Throttles']) {
        expect(watched, `${id} ${metric}`).toContain(`${metric}:${JSON.stringify([{ Name: 'FunctionName', Value: fn.Properties['FunctionName'] }])}`);
      }
    }
    expect(alarms.filter((a) => a['MetricName'] === 'ApproximateNumberOfMessagesVisible')).toHaveLength(2);
    for (const a of alarms) expect(a['AlarmActions']).toStrictEqual([{ Ref: 'AlertTopic' }]);
  });

  it('names every function, its log group, its EventBridge rule and its role after its family (`security-groups`), while logical ids stay alphanumeric', () => {
    const families = [...(Object.keys(rulesByFamily) as DeployedFamily[]).filter((f) => familyDeploysIn(f, 'eu-west-1')), 'notifier'];
    const named = (type: string, property: string) => ofType(euWest1, type).map(([, r]) => r.Properties[property]);
    expect(named('AWS::Lambda::Function', 'FunctionName')).toStrictEqual(families.map((family) => `remediation-bot-dev-${family}`));
    expect(named('AWS::Logs::LogGroup', 'LogGroupName')).toStrictEqual(families.map((family) => `/aws/lambda/remediation-bot-dev-${family}`));
    expect(named('AWS::Events::Rule', 'Name')).toStrictEqual(families.filter((family) => family !== 'notifier').map((family) => `remediation-bot-dev-${family}`));
    expect(named('AWS::IAM::Role', 'RoleName').sort()).toStrictEqual(families.map((family) => `remediation-bot-dev-eu-west-1-${family}`).sort());
    for (const id of Object.keys(euWest1.Resources)) expect(id).toMatch(/^[A-Za-z0-9]+$/);
  });

  it('puts every function role under the /remediation-bot/ path that the loop check recognises', () => {
    for (const [id, role] of ofType(usEast1, 'AWS::IAM::Role')) expect(role.Properties['Path'], id).toBe('/remediation-bot/');
  });

  it('creates the trail only when asked: multi-region, with log file validation, into an encrypted private bucket', () => {
    const trail = usEast1.Resources['Trail'];
    expect(trail?.Condition).toBe('CreateTrail');
    expect(trail?.Properties).toMatchObject({ IsMultiRegionTrail: true, EnableLogFileValidation: true, IsLogging: true });
    expect(usEast1.Resources['TrailBucket']?.Properties['BucketEncryption']).toBeDefined();
  });

  it('deploys global-service families (IAM) only in us-east-1', () => {
    for (const family of Object.keys(rulesByFamily)) {
      const id = functionLogicalId(family);
      expect(id in usEast1.Resources, `${family} in us-east-1`).toBe(true);
      expect(id in euWest1.Resources, `${family} in eu-west-1`).toBe(familyDeploysIn(family as DeployedFamily, 'eu-west-1'));
    }
  });

  it('holds no write permission at all in a default deployment (every rule proposes): every action a function may use on the account is a read', () => {
    const reads = /^[a-z0-9-]+:(Describe|Get|List|LookupEvents)/;
    const writes = rolePolicies(usEast1)
      .filter(({ role }) => role !== 'NotifierRole')
      .flatMap(({ role, document }) =>
        document.Statement.filter((statement) => (statement as { Effect?: string }).Effect === 'Allow')
          .flatMap((statement) => [statement.Action].flat())
          .filter((action) => !reads.test(action))
          .map((action) => `${role}: ${action}`),
      );
    // What remains is what every function needs to run: its log stream, the failure queue, the stack key, the alert topic, its idempotency keys.
    const runtime = /: (logs:CreateLogStream|logs:PutLogEvents|sqs:SendMessage|kms:Decrypt|kms:GenerateDataKey|kms:GenerateMac|sns:Publish|dynamodb:(DeleteItem|GetItem|PutItem|UpdateItem))$/;
    expect(writes.filter((entry) => !runtime.test(entry))).toStrictEqual([]);
  });

  it('tells every remediation function the exact ARNs of the bot\'s roles and the session names Lambda gives them, never a pattern', () => {
    const functions = ofType(usEast1, 'AWS::Lambda::Function').filter(([id]) => id !== 'NotifierLambdaFunction');
    const roles = ofType(usEast1, 'AWS::IAM::Role').map(([id]) => id).filter((id) => id !== 'NotifierRole');
    for (const [id, fn] of functions) {
      const variables = (fn.Properties['Environment'] as { Variables: Record<string, unknown> }).Variables;
      expect(variables['BOT_PRINCIPALS'], id).toStrictEqual({ 'Fn::Join': [',', roles.map((role) => ({ 'Fn::GetAtt': [role, 'Arn'] }))] });
      expect(String(variables['BOT_SESSION_NAMES']).split(','), id).toStrictEqual(functions.map(([, f]) => f.Properties['FunctionName']));
      expect(variables['BOT_ACCOUNT'], id).toStrictEqual({ Ref: 'AWS::AccountId' });
      expect(JSON.stringify(variables), id).not.toContain('*');
      expect(fn.Properties['ReservedConcurrentExecutions'], id).toBe(5);
    }
  });

  it('lets only the bot\'s roles and CloudWatch alarms publish to the alert topic, with an explicit deny for everyone else', () => {
    const statements = (usEast1.Resources['AlertTopicPolicy']?.Properties['PolicyDocument'] as { Statement: Record<string, unknown>[] }).Statement;
    const deny = statements.find((statement) => statement['Sid'] === 'OnlyTheBotAndAlarmsPublish');
    const roles = ofType(usEast1, 'AWS::IAM::Role').map(([id]) => id).filter((id) => id !== 'NotifierRole');
    expect(deny).toStrictEqual({
      Sid: 'OnlyTheBotAndAlarmsPublish',
      Effect: 'Deny',
      Principal: '*',
      Action: 'sns:Publish',
      Resource: { Ref: 'AlertTopic' },
      Condition: { StringNotEquals: { 'aws:PrincipalArn': roles.map((role) => ({ 'Fn::GetAtt': [role, 'Arn'] })), 'aws:PrincipalServiceName': 'cloudwatch.amazonaws.com' } },
    });
  });

  it("lets EventBridge use the stack key only for the bot's own rules, and encrypts every log group with it", () => {
    const statements = (usEast1.Resources['RemediationKey']?.Properties['KeyPolicy'] as { Statement: Record<string, unknown>[] }).Statement;
    const events = statements.find((statement) => JSON.stringify(statement['Principal']).includes('events.amazonaws.com'));
    const names = ofType(usEast1, 'AWS::Events::Rule').map(([, rule]) => rule.Properties['Name']);
    expect(names.length).toBeGreaterThan(0);
    expect(events?.['Condition']).toStrictEqual({
      ArnEquals: { 'aws:SourceArn': names.map((name) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:events:\${AWS::Region}:\${AWS::AccountId}:rule/${String(name)}` })) },
    });
    for (const [id, group] of ofType(usEast1, 'AWS::Logs::LogGroup')) expect(group.Properties['KmsKeyId'], id).toStrictEqual({ 'Fn::GetAtt': ['RemediationKey', 'Arn'] });
  });

  it('alarms on every remediation function\'s blind spots: events it could not inspect, fixes it could not verify, rules that failed, a spent write budget, decisions missing from the history', () => {
    const alarms = ofType(usEast1, 'AWS::CloudWatch::Alarm').map(([, r]) => r.Properties);
    for (const family of (Object.keys(rulesByFamily) as DeployedFamily[]).filter((f) => familyDeploysIn(f, 'us-east-1'))) {
      const alarm = alarms.find((a) => JSON.stringify(a['Metrics'] ?? []).includes(`"Value":"${family}"`));
      const metrics = ((alarm?.['Metrics'] as { MetricStat?: { Metric: { MetricName: string } } }[] | undefined) ?? []).flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric.MetricName] : []));
      expect(metrics, family).toStrictEqual(['Skipped', 'RemediationUnverified', 'RuleFailed', 'WriteBudgetExhausted', 'HistoryWriteFailed']);
      expect(alarm?.['AlarmActions'], family).toStrictEqual([{ Ref: 'AlertTopic' }]);
    }
  });

  it('lets each function touch only its own idempotency keys, its own family\'s undo and progress records and the write-budget counters', () => {
    for (const family of (Object.keys(rulesByFamily) as DeployedFamily[]).filter((f) => familyDeploysIn(f, 'us-east-1'))) {
      const key = familyKey(family);
      const statements = (usEast1.Resources[`${key.charAt(0).toUpperCase()}${key.slice(1)}Role`]?.Properties['Policies'] as { PolicyDocument: { Statement: Record<string, unknown>[] } }[]).flatMap(
        (p) => p.PolicyDocument.Statement,
      );
      const table = statements.find((statement) => JSON.stringify(statement['Resource']).includes('IdempotencyTable'));
      expect(table?.['Condition'], family).toStrictEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`remediation-bot-dev-${family}#*`, `undo#${family}#*`, `progress#${family}#*`, 'budget#*'] } });
    }
  });

  it('tells each function its reserved concurrency, which splits the API share among its instances (engine/pacing.ts)', () => {
    const values = stackValues(CONFIG_FILE, { service: 'remediation-bot', stage: 'dev', region: 'us-east-1', remediationConcurrency: '7' });
    const remediation = (Object.values(values.functions) as { environment?: Record<string, unknown>; reservedConcurrency?: number }[]).filter((fn) => fn.environment?.['HISTORY_TABLE'] !== undefined);
    expect(remediation.length).toBeGreaterThan(0);
    for (const fn of remediation) expect([fn.environment?.['RESERVED_CONCURRENCY'], fn.reservedConcurrency]).toStrictEqual(['7', 7]);
  });

  it('keeps the history in its own table, keyed by family and day, that each function may only add its own family\'s items to', () => {
    const table = usEast1.Resources['HistoryTable'];
    expect(table?.Type).toBe('AWS::DynamoDB::Table');
    expect(table?.Properties).toStrictEqual({
      TableName: 'remediation-bot-dev-history',
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'sk', AttributeType: 'S' },
      ],
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: { 'Fn::GetAtt': ['RemediationKey', 'Arn'] } },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    for (const family of (Object.keys(rulesByFamily) as DeployedFamily[]).filter((f) => familyDeploysIn(f, 'us-east-1'))) {
      const key = familyKey(family);
      const environment = (usEast1.Resources[functionLogicalId(family)]?.Properties['Environment'] as { Variables: Record<string, unknown> }).Variables;
      expect(environment['HISTORY_TABLE'], family).toStrictEqual({ Ref: 'HistoryTable' });
      expect(environment['HISTORY_RETENTION_DAYS'], family).toBe('90');
      const statements = (usEast1.Resources[`${key.charAt(0).toUpperCase()}${key.slice(1)}Role`]?.Properties['Policies'] as { PolicyDocument: { Statement: Record<string, unknown>[] } }[]).flatMap(
        (p) => p.PolicyDocument.Statement,
      );
      expect(statements.filter((statement) => JSON.stringify(statement['Resource']).includes('HistoryTable')), family).toStrictEqual([
        { Effect: 'Allow', Action: ['dynamodb:PutItem'], Resource: { 'Fn::GetAtt': ['HistoryTable', 'Arn'] }, Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${family}#*`] } } },
      ]);
    }
  });

  it('keeps history items historyRetentionDays after their event when the parameter is given', () => {
    const values = stackValues(CONFIG_FILE, { service: 'remediation-bot', stage: 'dev', region: 'us-east-1', historyRetentionDays: '400' });
    const functions = Object.values(values.functions) as { handler: string; environment?: Record<string, unknown> }[];
    const remediation = functions.filter((fn) => fn.environment?.['HISTORY_TABLE'] !== undefined);
    expect(remediation.map((fn) => fn.handler).sort()).toStrictEqual(
      (Object.keys(rulesByFamily) as DeployedFamily[])
        .filter((f) => familyDeploysIn(f, 'us-east-1'))
        .map((f) => `handlers/${f}.handler`)
        .sort(),
    );
    for (const fn of remediation) expect(fn.environment?.['HISTORY_RETENTION_DAYS'], fn.handler).toBe('400');
  });

  describe('with rules in remediate mode (the same derivation as `serverless deploy --param="modes=…"`)', () => {
    const modes = Object.values(rulesByFamily)
      .flat()
      .map((rule) => `${rule.id}=remediate`)
      .join(',');
    const values = stackValues(CONFIG_FILE, { service: 'remediation-bot', stage: 'dev', region: 'us-east-1', modes });
    const statementsOf = (role: string) =>
      ((values.resources.Resources[role] as Resource | undefined)?.Properties['Policies'] as { PolicyDocument: { Statement: Record<string, unknown>[] } }[]).flatMap((p) => p.PolicyDocument.Statement);

    it('lets the IAM function attach only AWSDenyAll, and denies it any change to the bot\'s own roles', () => {
      const statements = statementsOf('IamRole');
      const attach = statements.filter((s) => s['Effect'] === 'Allow' && [s['Action']].flat().includes('iam:AttachRolePolicy'));
      expect(attach).toHaveLength(1);
      expect(attach[0]?.['Condition']).toStrictEqual({ ArnLike: { 'iam:PolicyARN': 'arn:*:iam::aws:policy/AWSDenyAll' } });
      const deny = statements.find((s) => s['Effect'] === 'Deny');
      expect(deny?.['Resource']).toStrictEqual({ 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/remediation-bot/*' });
      // Plan actions only: the lookups (GetRole, GetRolePolicy) must still read the bot's own roles to recognise them.
      expect([deny?.['Action']].flat()).toContain('iam:AttachRolePolicy');
      expect([deny?.['Action']].flat().filter((action) => /^iam:(Get|List)/.test(String(action)))).toStrictEqual([]);
    });

    it('grants each family its rules\' write actions, and the IAM analyzer still finds nothing in any role', () => {
      for (const family of (Object.keys(rulesByFamily) as DeployedFamily[]).filter((f) => familyDeploysIn(f, 'us-east-1'))) {
        const key = familyKey(family);
        const role = `${key.charAt(0).toUpperCase()}${key.slice(1)}Role`;
        const actions = statementsOf(role).flatMap((s) => [s['Action']].flat());
        for (const permission of (rulesByFamily[family] as readonly Rule[]).flatMap((rule) => rule.permissions).filter((p) => p.requiresSetting === undefined)) {
          expect(actions, `${family} ${permission.action}`).toContain(permission.action);
        }
        const remediation = ((values.resources.Resources[role] as Resource).Properties['Policies'] as { PolicyName: string; PolicyDocument: unknown }[]).find((p) => p.PolicyName === 'remediation');
        if (!remediation) continue;
        const analysis = analyzePermissionsPolicy(JSON.stringify(concrete(remediation.PolicyDocument)));
        expect(analysis.ok && analysis.findings, role).toStrictEqual([]);
      }
    });
  });
});

describe('approvals (approvals parameter)', () => {
  const statementsIn = (values: ReturnType<typeof stackValues>, role: string) =>
    ((values.resources.Resources[role] as Resource | undefined)?.Properties['Policies'] as { PolicyDocument: { Statement: Record<string, unknown>[] } }[]).flatMap((p) => p.PolicyDocument.Statement);
  const actionsIn = (values: ReturnType<typeof stackValues>, role: string) => statementsIn(values, role).flatMap((s) => [s['Action']].flat());
  const leadingKeys = (values: ReturnType<typeof stackValues>, role: string) =>
    statementsIn(values, role).find((s) => JSON.stringify(s['Resource']).includes('IdempotencyTable'))?.['Condition'] as Record<string, Record<string, string[]>> | undefined;
  const envOf = (values: ReturnType<typeof stackValues>, key: string) => (values.functions[key] as { environment: Record<string, unknown> }).environment;
  const stack = { service: 'remediation-bot', stage: 'dev', region: 'us-east-1' };

  it('off by default: no write permission for a rule in propose, no proposal keys, no APPROVALS variable', () => {
    const values = stackValues(CONFIG_FILE, stack);
    expect(actionsIn(values, 'SecurityGroupsRole')).not.toContain('ec2:RevokeSecurityGroupIngress');
    expect(leadingKeys(values, 'SecurityGroupsRole')?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys']?.some((key) => key.startsWith('proposal#'))).toBe(false);
    expect(envOf(values, 'securityGroups')['APPROVALS']).toBeUndefined();
  });

  it('on: each function holds the writes of its rules in propose (and nothing for rules in notify or off), and reads and writes only its own family\'s proposals', () => {
    const values = stackValues(CONFIG_FILE, { ...stack, approvals: 'true', proposalDays: '3', modes: 'ebs-public-snapshot=notify' });
    expect(envOf(values, 'securityGroups')).toMatchObject({ APPROVALS: 'true', PROPOSAL_DAYS: '3' });
    const config = loadDeployConfig(CONFIG_FILE, { modes: 'ebs-public-snapshot=notify' });
    for (const family of (Object.keys(rulesByFamily) as DeployedFamily[]).filter((f) => familyDeploysIn(f, 'us-east-1'))) {
      const key = familyKey(family);
      const role = `${key.charAt(0).toUpperCase()}${key.slice(1)}Role`;
      const remediation = ((values.resources.Resources[role] as Resource).Properties['Policies'] as { PolicyName: string; PolicyDocument: { Statement: unknown[] } }[]).find((p) => p.PolicyName === 'remediation');
      expect(remediation?.PolicyDocument.Statement ?? [], family).toStrictEqual(JSON.parse(JSON.stringify(statementsFor(rulesByFamily[family], config, { approvals: true }))));
      expect(leadingKeys(values, role)?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'], family).toContain(`proposal#${family}#*`);
      if (!remediation) continue;
      const analysis = analyzePermissionsPolicy(JSON.stringify(concrete(remediation.PolicyDocument)));
      expect(analysis.ok && analysis.findings, role).toStrictEqual([]);
    }
    expect(actionsIn(values, 'SecurityGroupsRole')).toContain('ec2:RevokeSecurityGroupIngress');
    // ebs-public-snapshot is in notify: it proposes nothing, so nothing of its plan is granted.
    const ebsWrites = (rulesByFamily.ebs as readonly Rule[]).find((rule) => rule.id === 'ebs-public-snapshot')?.permissions.map((p) => p.action) ?? [];
    const otherEbsWrites = (rulesByFamily.ebs as readonly Rule[]).filter((rule) => rule.id !== 'ebs-public-snapshot').flatMap((rule) => rule.permissions.map((p) => p.action));
    for (const action of ebsWrites.filter((a) => !otherEbsWrites.includes(a))) expect(actionsIn(values, 'EbsRole'), action).not.toContain(action);
  });
});

describe('the Slack approval function (approvals and slackSigningSecret parameters)', () => {
  const stack = { service: 'remediation-bot', stage: 'prod', region: 'us-east-1', approvals: 'true' };
  const reference = '/remediation-bot/slack-signing-secret';

  it('exists only with both parameters', () => {
    expect(stackValues(CONFIG_FILE, stack).functions['slackApprovals']).toBeUndefined();
    expect(() => stackValues(CONFIG_FILE, { ...stack, approvals: 'false', slackSigningSecret: reference })).toThrow('param slackSigningSecret: the Approve and Dismiss buttons need approvals=true as well');
  });

  it('has a public function URL, knows the family functions, and holds the secret\'s name only', () => {
    const values = stackValues(CONFIG_FILE, { ...stack, slackSigningSecret: reference });
    const fn = values.functions['slackApprovals'] as { url: boolean; environment: Record<string, unknown>; handler: string };
    expect(fn.url).toBe(true);
    expect(fn.handler).toBe('handlers/slack-approvals.handler');
    expect(fn.environment['SLACK_SIGNING_SECRET']).toBe(reference);
    expect(JSON.parse(String(fn.environment['FAMILY_FUNCTIONS']))).toStrictEqual(
      Object.fromEntries((Object.keys(rulesByFamily) as DeployedFamily[]).filter((f) => familyDeploysIn(f, 'us-east-1')).map((f) => [f, `remediation-bot-prod-${f}`])),
    );
    expect(values.resources.Outputs['SlackApprovalsUrl']).toStrictEqual({ Description: 'The Request URL of the Slack app (Interactivity & Shortcuts)', Value: { 'Fn::GetAtt': ['SlackApprovalsLambdaFunctionUrl', 'FunctionUrl'] } });
  });

  it('lets its role read its secret, record signatures under slack#, and invoke the family functions: nothing else', () => {
    const values = stackValues(CONFIG_FILE, { ...stack, slackSigningSecret: reference });
    const policies = (values.resources.Resources['SlackApprovalsRole'] as Resource).Properties['Policies'] as { PolicyName: string; PolicyDocument: { Statement: Record<string, unknown>[] } }[];
    const statements = policies.flatMap((p) => p.PolicyDocument.Statement);
    const actions = statements.flatMap((s) => [s['Action']].flat()).sort();
    expect(actions).toStrictEqual(['dynamodb:PutItem', 'kms:Decrypt', 'kms:Decrypt', 'kms:GenerateDataKey', 'lambda:InvokeFunction', 'logs:CreateLogStream', 'logs:PutLogEvents', 'sqs:SendMessage', 'ssm:GetParameter']);
    expect(statements.find((s) => s['Action']?.toString() === 'ssm:GetParameter')?.['Resource']).toStrictEqual({ 'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter${reference}` });
    expect(statements.find((s) => s['Action']?.toString() === 'dynamodb:PutItem')?.['Condition']).toStrictEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['slack#*'] } });
    const invoked = [statements.find((s) => s['Action']?.toString() === 'lambda:InvokeFunction')?.['Resource']].flat() as { 'Fn::Sub': string }[];
    expect(invoked.map((arn) => arn['Fn::Sub'].split(':function:')[1]).sort()).toStrictEqual(
      (Object.keys(rulesByFamily) as DeployedFamily[]).filter((f) => familyDeploysIn(f, 'us-east-1')).map((f) => `remediation-bot-prod-${f}`).sort(),
    );
  });
});

describe('the Security Hub subscriber (securityHub parameter)', () => {
  const base = { service: 'remediation-bot', stage: 'dev', region: 'us-east-1' } as const;
  const allActions = (values: ReturnType<typeof stackValues>) =>
    Object.values(values.resources.Resources)
      .filter((resource) => (resource as Resource).Type === 'AWS::IAM::Role')
      .flatMap((role) => ((role as Resource).Properties['Policies'] as { PolicyDocument: { Statement: { Action: string | string[] }[] } }[]).flatMap((p) => p.PolicyDocument.Statement))
      .flatMap((statement) => [statement.Action].flat());

  it('is absent by default: no function, and no role holds any Security Hub permission', () => {
    const values = stackValues(CONFIG_FILE, base);
    expect(Object.keys(values.functions)).not.toContain('securityHub');
    expect(allActions(values).filter((action) => action.startsWith('securityhub:'))).toStrictEqual([]);
  });

  it('with securityHub=true, subscribes one function to the alert topic that may import only as the account default integration and update only through its hub', () => {
    const values = stackValues(CONFIG_FILE, { ...base, securityHub: 'true' });
    const fn = values.functions['securityHub'] as Record<string, unknown>;
    expect(fn['handler']).toBe('handlers/securityhub.handler');
    expect(fn['name']).toBe('remediation-bot-dev-security-hub');
    expect(fn['events']).toStrictEqual([{ sns: { arn: { Ref: 'AlertTopic' }, topicName: 'remediation-bot-dev-alerts' } }]);
    const statements = ((values.resources.Resources['SecurityHubRole'] as Resource).Properties['Policies'] as { PolicyDocument: { Statement: Record<string, unknown>[] } }[]).flatMap(
      (p) => p.PolicyDocument.Statement,
    );
    expect(statements.filter((s) => [s['Action']].flat().some((action) => String(action).startsWith('securityhub:')))).toStrictEqual([
      { Effect: 'Allow', Action: ['securityhub:BatchImportFindings'], Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:product/${AWS::AccountId}/default' } },
      { Effect: 'Allow', Action: ['securityhub:BatchUpdateFindings'], Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:securityhub:${AWS::Region}:${AWS::AccountId}:hub/default' } },
    ]);
    // Only that function: no remediation function's role gains a Security Hub permission.
    expect(allActions(values).filter((action) => action.startsWith('securityhub:'))).toHaveLength(2);
    expect(values.resources.Resources).toHaveProperty('SecurityHubErrorsAlarm');
    expect(values.resources.Resources).toHaveProperty('SecurityHubThrottlesAlarm');
  });
});
