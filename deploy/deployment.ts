/**
 * What `serverless.yml` needs from the registry, computed in one place: one
 * function per rule family with its EventBridge pattern, its own IAM role
 * (exactly the union of its rules' permissions and lookups), alarms, and the
 * validated config to embed. `deploy/values.cjs` loads this module for osls;
 * tests import it directly.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { modeFor, parseConfig, settingsFor, type Config } from '../engine/config.js';
import { patternForRules, type EventPatternDocument } from '../engine/patterns.js';
import { iamActionFor } from '../engine/iam-actions.js';
import { alertSigningEnvironment, alertSigningKeyResources, alertSigningStatement, alertVerifyingStatement, type SignerRole } from './alert-signing.js';
import { MODES, type Permission, type Rule } from '../engine/types.js';
import { allRules, familiesByName, rulesByFamily, type DeployedFamily } from '../remediations/registry.js';
import { notificationFilterPolicies, type FilterPolicy } from './notification-filters.js';

type CfnValue = string | { readonly 'Fn::Sub': string } | { readonly 'Fn::GetAtt': readonly string[] } | { readonly Ref: string };

export interface IamStatement {
  readonly Effect: 'Allow' | 'Deny';
  readonly Action: readonly string[];
  readonly Resource: CfnValue | readonly CfnValue[];
  readonly Condition?: Readonly<Record<string, unknown>>;
}

/**
 * IAM API events are global-service events: EventBridge delivers them only in
 * us-east-1, so the IAM family is deployed there and nowhere else. The
 * credentials family is deployed everywhere: its IAM triggers still arrive only
 * in us-east-1, but an IAM user's console sign-in is recorded in the Region of
 * the sign-in endpoint, and must be seen there.
 */
const GLOBAL_EVENTS_REGION = 'us-east-1';
export function familyDeploysIn(family: DeployedFamily, region: string): boolean {
  return !familiesByName[family].global || region === GLOBAL_EVENTS_REGION;
}

/** Resource strings use CloudFormation `Fn::Sub` placeholders (`${AWS::AccountId}`); `*` stays a plain string. */
function resourceValue(resource: string): CfnValue {
  return resource.includes('${') ? { 'Fn::Sub': resource } : resource;
}

/** Condition values may hold the same placeholders (`aws:ResourceAccount` = `${AWS::AccountId}`): each is substituted by CloudFormation. */
function conditionValue(condition: NonNullable<Permission['condition']>): Record<string, Record<string, CfnValue | readonly CfnValue[]>> {
  return Object.fromEntries(
    Object.entries(condition).map(([operator, keys]) => [
      operator,
      Object.fromEntries(Object.entries(keys).map(([key, value]) => [key, typeof value === 'string' ? resourceValue(value) : value.map(resourceValue)])),
    ]),
  );
}

/**
 * Whether the deployment grants a plan permission: only to a rule whose mode
 * applies plans (`remediate`), and only when the setting it depends on is set.
 * Without a config, every permission a rule could use (the reference tables).
 */
function granted(rule: Rule, permission: Permission, config: Config | undefined): boolean {
  if (!config) return true;
  if (modeFor(rule, config) !== 'remediate') return false;
  if (permission.requiresSetting === undefined) return true;
  const value = (settingsFor<Record<string, unknown>>(rule, config) ?? {})[permission.requiresSetting];
  return value !== undefined && value !== null && value !== '' && !(Array.isArray(value) && value.length === 0);
}

/**
 * The family's own permissions: plan actions (with a config, only those a
 * rule in `remediate` mode can use: a default deployment, every rule in
 * `propose`, holds no write permission at all), and the read-only actions of
 * lookups and probes (the reads before and after each write), each on its
 * declared resource (`*` when none is declared), grouped by resource and
 * condition, sorted for a stable template.
 */
export function statementsFor(rules: readonly Rule[], config?: Config): IamStatement[] {
  const groups = new Map<string, { resource: string; condition?: Permission['condition']; actions: Set<string> }>();
  const add = (action: string, resource: string, condition?: Permission['condition']) => {
    const key = `${resource}\u0000${condition ? JSON.stringify(condition) : ''}`;
    const group = groups.get(key) ?? { resource, ...(condition ? { condition } : {}), actions: new Set<string>() };
    group.actions.add(action);
    groups.set(key, group);
  };
  for (const rule of rules) {
    for (const permission of rule.permissions) if (granted(rule, permission, config)) add(permission.action, permission.resource, permission.condition);
    for (const lookup of rule.lookups ?? []) add(lookup.permission, lookup.resource ?? '*');
    for (const probe of rule.probes ?? []) add(iamActionFor(probe.service, probe.operation), probe.resource ?? '*');
  }
  const allows = [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([, { resource, condition, actions }]) => ({
      Effect: 'Allow' as const,
      Action: [...actions].sort(),
      Resource: resourceValue(resource),
      ...(condition ? { Condition: conditionValue(condition) } : {}),
    }));
  return [...allows, ...protectOwnRoles(rules)];
}

/**
 * Defence in depth for the IAM family: whatever its rules' plans may do to
 * roles, the bot's own roles (path `/remediation-bot/`) are denied explicitly,
 * so no rule, bug or hostile event can make the bot detach, delete or attach
 * its own policies. The Deny names every role action any rule could use,
 * granted or not. Lookups stay allowed: reading a role (`GetRole`) is how a
 * rule recognises the bot's own role and alerts instead of acting.
 */
function protectOwnRoles(rules: readonly Rule[]): IamStatement[] {
  const roleActions = rules
    .flatMap((rule) => rule.permissions)
    .filter((p) => p.action.startsWith('iam:') && p.resource.includes(':role/'))
    .map((p) => p.action);
  if (roleActions.length === 0) return [];
  return [
    {
      Effect: 'Deny',
      Action: [...new Set(roleActions)].sort(),
      Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/remediation-bot/*' },
    },
  ];
}

export function familyPattern(family: DeployedFamily): EventPatternDocument {
  return patternForRules(rulesByFamily[family]);
}

/** camelCase keys: serverless variable addresses are dotted paths, and function names become logical ids. */
export function familyKey(family: string): string {
  return family.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

function logicalId(family: string, suffix: string): string {
  const key = familyKey(family);
  return `${key.charAt(0).toUpperCase()}${key.slice(1)}${suffix}`;
}

export interface DeployParams {
  readonly service: string;
  readonly stage: string;
  readonly region: string;
  /** `sg-open-ingress=remediate,ebs-public-snapshot=notify`: per-rule mode overrides at deploy time. */
  readonly modes?: string;
  /** Overrides the config file's exemption tag key. */
  readonly exemptionTagKey?: string;
  /** A customer managed KMS key for the topic and queues; empty: the stack creates one. */
  readonly kmsKeyArn?: string;
  /** Secrets Manager secret ARN, or SSM SecureString name ("/…") or ARN, holding the Slack webhook URL; empty: no Slack notifier. */
  readonly slackWebhookSecret?: string;
  /** Email address subscribed to the alert topic; empty: none. */
  readonly alertEmail?: string;
  /** Reserved concurrency of every remediation function: a cap on how many events are acted on at once. */
  readonly remediationConcurrency?: string | number;
}

/** Reserved concurrency of each remediation function when the parameter is not given. */
const DEFAULT_REMEDIATION_CONCURRENCY = 5;

/** The reserved concurrency parameter, validated: an integer from 1 to 100. */
function remediationConcurrency(params: Pick<DeployParams, 'remediationConcurrency'>): number {
  const raw = params.remediationConcurrency;
  if (raw === undefined || raw === '') return DEFAULT_REMEDIATION_CONCURRENCY;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > 100) throw new Error(`param remediationConcurrency: expected an integer from 1 to 100, got ${JSON.stringify(raw)}`);
  return value;
}

/**
 * The key that encrypts the alert topic and the queues. AWS managed keys
 * (`alias/aws/sns`, `alias/aws/sqs`) cannot be used here: their key policies
 * cannot grant CloudWatch (alarms publish to the topic) or EventBridge (dead
 * letters go to the queue), so delivery would fail silently. By default the
 * stack creates its own key, with rotation, granting exactly those services.
 */
function kmsKeyOf(params: Pick<DeployParams, 'kmsKeyArn'>): CfnValue {
  return params.kmsKeyArn ? params.kmsKeyArn : { 'Fn::GetAtt': ['RemediationKey', 'Arn'] };
}

/** The logical id the framework gives a function's first EventBridge rule (from its default name, whatever `name` says). */
function eventRuleLogicalId(params: Pick<DeployParams, 'service' | 'stage'>, key: string): string {
  const id = `${params.service}-${params.stage}-${key}-rule-1`.replace(/[^0-9A-Za-z]/g, '');
  return `${id.charAt(0).toUpperCase()}${id.slice(1)}EventBridgeRule`;
}

/** The name of a family's EventBridge rule, fixed so the key policy can name it. */
function eventRuleName(params: Pick<DeployParams, 'service' | 'stage'>, key: string): string {
  return `${params.service}-${params.stage}-${key}`;
}

function keyResources(params: DeployParams, ruleNames: readonly string[] = []): Record<string, unknown> {
  if (params.kmsKeyArn) return {};
  const servicePrincipal = (service: string) => ({
    Sid: `Allow${service.split('.')[0]}`,
    Effect: 'Allow',
    Principal: { Service: service },
    Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
    Resource: '*',
    Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
  });
  return {
    RemediationKey: {
      Type: 'AWS::KMS::Key',
      Properties: {
        Description: `${params.service}-${params.stage}: alert topic and queues`,
        EnableKeyRotation: true,
        KeyPolicy: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'AccountAdministers',
              Effect: 'Allow',
              Principal: { AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' } },
              Action: 'kms:*',
              Resource: '*',
            },
            servicePrincipal('cloudwatch.amazonaws.com'),
            // EventBridge sends the rule's ARN (not aws:SourceAccount) to KMS: only the bot's own rules may use the key for dead letters.
            {
              ...servicePrincipal('events.amazonaws.com'),
              Condition: { ArnEquals: { 'aws:SourceArn': ruleNames.map((name) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:events:\${AWS::Region}:\${AWS::AccountId}:rule/${name}` })) } },
            },
            {
              Sid: 'AllowLogs',
              Effect: 'Allow',
              Principal: { Service: { 'Fn::Sub': 'logs.${AWS::Region}.amazonaws.com' } },
              Action: ['kms:Encrypt', 'kms:Decrypt', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
              Resource: '*',
              // Only the deployment's own log groups may use the key.
              Condition: { ArnLike: { 'kms:EncryptionContext:aws:logs:arn': { 'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${params.service}-${params.stage}-*` } } },
            },
          ].map((statement) => JSON.parse(JSON.stringify(statement)) as unknown),
        },
      },
    },
    RemediationKeyAlias: {
      Type: 'AWS::KMS::Alias',
      Properties: { AliasName: `alias/${params.service}-${params.stage}`, TargetKeyId: { Ref: 'RemediationKey' } },
    },
  };
}

/** Applies deploy-time overrides (per-rule modes, exemption tag key) to the raw config, validating them like the file. */
function applyOverrides(raw: unknown, params: Pick<DeployParams, 'modes' | 'exemptionTagKey'>): Record<string, unknown> {
  const base = typeof raw === 'object' && raw !== null ? { ...(raw as Record<string, unknown>) } : {};
  const rules = { ...((base['rules'] as Record<string, Record<string, unknown> | null> | undefined) ?? {}) };
  for (const pair of (params.modes ?? '').split(',').map((p) => p.trim()).filter(Boolean)) {
    const [id, mode] = pair.split('=').map((part) => part.trim());
    if (!id || !mode || !(MODES as readonly string[]).includes(mode)) {
      throw new Error(`param modes: "${pair}" must be <rule-id>=<${MODES.join('|')}>`);
    }
    rules[id] = { ...(rules[id] ?? {}), mode };
  }
  if (params.exemptionTagKey) base['exemptionTagKey'] = params.exemptionTagKey;
  return { ...base, rules };
}

export function loadDeployConfig(path: string, overrides: Pick<DeployParams, 'modes' | 'exemptionTagKey'> = {}): Config {
  const raw: unknown = existsSync(path) ? parseYaml(readFileSync(path, 'utf8')) : {};
  return parseConfig(applyOverrides(raw, overrides), allRules, { rejectUnknownRules: true });
}

/** The config in its file form, as embedded into every bundle with esbuild `define`. */
function embeddedConfigOf(config: Config): string {
  return JSON.stringify({
    defaultMode: config.defaultMode,
    exemptionTagKey: config.exemptionTagKey,
    ignorePrincipals: config.ignorePrincipals,
    trustedAccounts: config.trustedAccounts,
    maxWritesPerInvocation: config.maxWritesPerInvocation,
    writeBudget: config.writeBudget,
    exemptionTags: config.exemptionTags,
    exemptions: config.exemptions,
    notifications: config.notifications,
    rules: Object.fromEntries(Object.entries(config.rules).map(([id, rule]) => [id, { mode: rule.mode, ...(rule.settings as Record<string, unknown>) }])),
  });
}

function functionName(params: Pick<DeployParams, 'service' | 'stage'>, key: string): string {
  return `${params.service}-${params.stage}-${key}`;
}

function alarm(name: string, description: string, namespace: string, metric: string, dimensions: Record<string, unknown>[]) {
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: name,
      AlarmDescription: description,
      Namespace: namespace,
      MetricName: metric,
      Dimensions: dimensions,
      Statistic: metric.startsWith('Approximate') ? 'Maximum' : 'Sum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [{ Ref: 'AlertTopic' }],
    },
  };
}

/** Errors and throttles of a function, published to the alert topic. */
function functionAlarms(params: DeployParams, key: string): Record<string, unknown> {
  const name = functionName(params, key);
  const dimensions = [{ Name: 'FunctionName', Value: name }];
  return {
    [logicalId(key, 'ErrorsAlarm')]: alarm(`${name}-errors`, `Function ${name} failed: check its logs and the failure queue.`, 'AWS/Lambda', 'Errors', dimensions),
    [logicalId(key, 'ThrottlesAlarm')]: alarm(`${name}-throttles`, `Function ${name} was throttled: events may be delayed.`, 'AWS/Lambda', 'Throttles', dimensions),
  };
}

function queueDepthAlarm(params: DeployParams, queueLogicalId: string, what: string): Record<string, unknown> {
  return {
    [`${queueLogicalId}DepthAlarm`]: alarm(
      `${params.service}-${params.stage}-${queueLogicalId}-depth`,
      `${what}: at least one message waits in ${queueLogicalId}. Inspect and redrive it.`,
      'AWS/SQS',
      'ApproximateNumberOfMessagesVisible',
      [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueLogicalId, 'QueueName'] } }],
    ),
  };
}

/** The role every function of the deployment gets: path `/remediation-bot/` is what the loop check recognises. */
export function functionRole(params: DeployParams, key: string, statements: readonly IamStatement[], runtime: readonly IamStatement[]) {
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      Path: '/remediation-bot/',
      RoleName: `${params.service}-${params.stage}-${params.region}-${key}`.slice(0, 64),
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      },
      Policies: [
        ...(statements.length > 0 ? [{ PolicyName: 'remediation', PolicyDocument: { Version: '2012-10-17', Statement: statements } }] : []),
        { PolicyName: 'runtime', PolicyDocument: { Version: '2012-10-17', Statement: runtime } },
      ],
    },
  };
}

/** What every function needs to run: its own log group, the failure queue, the encryption key. */
export function runtimeStatements(params: DeployParams, key: string): IamStatement[] {
  return [
    {
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: { 'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${functionName(params, key)}:*` },
    },
    { Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: { 'Fn::GetAtt': ['FailureQueue', 'Arn'] } },
    { Effect: 'Allow', Action: ['kms:Decrypt', 'kms:GenerateDataKey'], Resource: kmsKeyOf(params) },
  ];
}

/**
 * One table per stack: the idempotency records (a duplicate delivery returns
 * the first result) and, beside them, the undo record of every applied plan
 * (`remediate undo <event-id>`). On demand, TTL, encrypted with the stack key,
 * and point-in-time recovery because the undo records matter.
 */
function idempotencyTable(params: DeployParams): Record<string, unknown> {
  return {
    IdempotencyTable: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        TableName: `${params.service}-${params.stage}-idempotency`,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: kmsKeyOf(params) },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      },
    },
  };
}

/**
 * Each function reads and writes only its own idempotency keys, its own
 * family's undo records (a function cannot plant an undo record for another
 * family), and the deployment's write-budget counters.
 */
function idempotencyStatement(params: DeployParams, key: string, family: string): IamStatement {
  return {
    Effect: 'Allow',
    Action: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    Resource: { 'Fn::GetAtt': ['IdempotencyTable', 'Arn'] },
    Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${functionName(params, key)}#*`, `undo#${family}#*`, 'budget#*'] } },
  };
}

/**
 * The alert topic's policy: only the bot's function roles and CloudWatch
 * alarms (of this account) may publish, over TLS. An explicit deny, so no
 * identity policy in the account, however broad, can publish a forged alert.
 */
function alertTopicPolicy(roleLogicalIds: readonly string[]): Record<string, unknown> {
  const topic = { Ref: 'AlertTopic' };
  return {
    AlertTopicPolicy: {
      Type: 'AWS::SNS::TopicPolicy',
      Properties: {
        Topics: [topic],
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'AlarmsPublish',
              Effect: 'Allow',
              Principal: { Service: 'cloudwatch.amazonaws.com' },
              Action: 'sns:Publish',
              Resource: topic,
              Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
            },
            {
              Sid: 'OnlyTheBotAndAlarmsPublish',
              Effect: 'Deny',
              Principal: '*',
              Action: 'sns:Publish',
              Resource: topic,
              // For an IAM principal aws:PrincipalServiceName is absent (so the second test holds); for CloudWatch, aws:PrincipalArn is.
              Condition: {
                StringNotEquals: {
                  'aws:PrincipalArn': roleLogicalIds.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] })),
                  'aws:PrincipalServiceName': 'cloudwatch.amazonaws.com',
                },
              },
            },
            {
              Sid: 'TlsOnly',
              Effect: 'Deny',
              Principal: '*',
              Action: 'sns:Publish',
              Resource: topic,
              Condition: { Bool: { 'aws:SecureTransport': 'false' } },
            },
          ],
        },
      },
    },
  };
}

/**
 * One alarm per function on the bot's blind spots and doubts: an event it
 * could not inspect (`Skipped`), a fix it could not verify
 * (`RemediationUnverified`), a rule that failed (`RuleFailed`), and a spent
 * write budget (`WriteBudgetExhausted`), summed by metric math.
 */
function blindSpotAlarm(params: DeployParams, key: string, family: string): Record<string, unknown> {
  const name = functionName(params, key);
  const metrics = ['Skipped', 'RemediationUnverified', 'RuleFailed', 'WriteBudgetExhausted'];
  return {
    [logicalId(key, 'BlindSpotAlarm')]: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: `${name}-blind-spots`,
        AlarmDescription: `Function ${name} could not inspect an event, could not verify a fix, had a rule fail, or spent the write budget: read its alerts.`,
        Metrics: [
          ...metrics.map((metric, index) => ({
            Id: `m${index}`,
            ReturnData: false,
            MetricStat: {
              Metric: { Namespace: 'RemediationBot', MetricName: metric, Dimensions: [{ Name: 'service', Value: 'remediation-bot' }, { Name: 'family', Value: family }] },
              Period: 300,
              Stat: 'Sum',
            },
          })),
          { Id: 'total', Expression: metrics.map((_, index) => `FILL(m${index}, 0)`).join(' + '), Label: 'blind spots', ReturnData: true },
        ],
        EvaluationPeriods: 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
        AlarmActions: [{ Ref: 'AlertTopic' }],
      },
    },
  };
}

/**
 * Read access to exactly the webhook secret, and KMS decryption only through
 * that service and only for that secret (the encryption context names it), so
 * the secret may use the AWS managed key or a customer managed one.
 */
function webhookSecretStatements(reference: string): IamStatement[] {
  const arnRegion = /^arn:[^:]+:[^:]+:([a-z0-9-]+):/.exec(reference)?.[1];
  const viaService = (service: string): CfnValue =>
    arnRegion ? `${service}.${arnRegion}.amazonaws.com` : { 'Fn::Sub': `${service}.\${AWS::Region}.amazonaws.com` };
  const decrypt = (service: string, contextKey: string, arns: CfnValue | readonly CfnValue[]): IamStatement => ({
    Effect: 'Allow',
    Action: ['kms:Decrypt'],
    Resource: '*',
    Condition: { StringEquals: { 'kms:ViaService': viaService(service) }, StringLike: { [`kms:EncryptionContext:${contextKey}`]: arns } },
  });
  if (/^arn:[^:]+:secretsmanager:/.test(reference)) {
    // A full ARN ends in Secrets Manager's random 6-character suffix; an ARN without it matches through "-??????".
    const arns = [reference, `${reference}-??????`];
    return [{ Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: arns }, decrypt('secretsmanager', 'SecretARN', arns)];
  }
  const arn: CfnValue = reference.startsWith('arn:')
    ? reference
    : { 'Fn::Sub': `arn:\${AWS::Partition}:ssm:\${AWS::Region}:\${AWS::AccountId}:parameter${reference}` };
  return [{ Effect: 'Allow', Action: ['ssm:GetParameter'], Resource: arn }, decrypt('ssm', 'PARAMETER_ARN', arn)];
}

/** The SNS subscription of a channel: `FilterPolicy` only when the channel filters at all. */
function filterOf(policy: FilterPolicy | undefined): Record<string, unknown> {
  return policy ? { filterPolicyScope: 'MessageAttributes', filterPolicy: policy } : {};
}

/** The email subscription (confirm the mail SNS sends), with the email filter policy. */
function emailSubscription(params: DeployParams, config: Config): Record<string, unknown> {
  const email = params.alertEmail?.trim() ?? '';
  if (email === '') return {};
  const policy = notificationFilterPolicies(config.notifications).email;
  return {
    AlertEmailSubscription: {
      Type: 'AWS::SNS::Subscription',
      Properties: {
        TopicArn: { Ref: 'AlertTopic' },
        Protocol: 'email',
        Endpoint: email,
        ...(policy ? { FilterPolicyScope: 'MessageAttributes', FilterPolicy: policy } : {}),
      },
    },
  };
}

/**
 * The Slack notifier, when a webhook secret is configured: subscribed to the
 * alert topic with the Slack filter policy, holding only read access to the
 * secret. Its failures go to the failure queue after Lambda's async retries.
 */
function notifierValues(params: DeployParams, config: Config): { functions: Record<string, unknown>; resources: Record<string, unknown> } {
  const reference = params.slackWebhookSecret?.trim() ?? '';
  if (reference === '') return { functions: {}, resources: {} };
  const key = 'notifier';
  const alarms = functionAlarms(params, key);
  return {
    functions: {
      [key]: {
        handler: 'handlers/notifier.handler',
        description: 'Posts remediation alerts from the alert topic to Slack',
        role: logicalId(key, 'Role'),
        timeout: 30,
        memorySize: 256,
        // Slack accepts about one message per second per webhook: a burst waits in Lambda's async queue instead of meeting 429s.
        reservedConcurrency: 2,
        maximumRetryAttempts: 2,
        environment: { SLACK_WEBHOOK_SECRET: reference, ...alertSigningEnvironment() },
        destinations: { onFailure: { type: 'sqs', arn: { 'Fn::GetAtt': ['FailureQueue', 'Arn'] } } },
        events: [
          {
            sns: {
              arn: { Ref: 'AlertTopic' },
              topicName: `${params.service}-${params.stage}-alerts`,
              ...filterOf(notificationFilterPolicies(config.notifications).slack),
            },
          },
        ],
      },
    },
    resources: {
      [logicalId(key, 'Role')]: functionRole(params, key, webhookSecretStatements(reference), [...runtimeStatements(params, key), alertVerifyingStatement()]),
      // Throttles are expected (reserved concurrency smooths bursts); errors are not.
      [logicalId(key, 'ErrorsAlarm')]: alarms[logicalId(key, 'ErrorsAlarm')],
    },
  };
}

interface StackValues {
  readonly functions: Record<string, unknown>;
  readonly resources: { readonly Resources: Record<string, unknown>; readonly Outputs: Record<string, unknown>; readonly extensions: Record<string, unknown> };
  readonly embeddedConfig: string;
  readonly families: readonly string[];
  readonly kmsKey: CfnValue;
  /** Config entries accepted but worth a look (printed at package time). */
  readonly warnings: readonly string[];
}

/** Functions and resources of every rule family deployed in `params.region`. */
export function stackValues(configPath: string, params: DeployParams): StackValues {
  const config = loadDeployConfig(configPath, params);
  const families = (Object.keys(rulesByFamily) as DeployedFamily[]).filter((family) => familyDeploysIn(family, params.region));
  const keys = families.map(familyKey);
  const roles = keys.map((key) => logicalId(key, 'Role'));
  const concurrency = remediationConcurrency(params);
  // The bot is its exact roles, and the session names Lambda gives them (the function names): never a pattern.
  const identity = {
    BOT_PRINCIPALS: { 'Fn::Join': [',', roles.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] }))] },
    BOT_SESSION_NAMES: keys.map((key) => functionName(params, key)).join(','),
    BOT_ACCOUNT: { Ref: 'AWS::AccountId' },
  };
  const functions: Record<string, unknown> = {};
  const extensions: Record<string, unknown> = {};
  const resources: Record<string, unknown> = {
    ...keyResources(params, keys.map((key) => eventRuleName(params, key))),
    ...alertTopicPolicy(roles),
    ...idempotencyTable(params),
    ...queueDepthAlarm(params, 'EventsDeadLetterQueue', 'EventBridge could not deliver an event to a function'),
    ...queueDepthAlarm(params, 'FailureQueue', 'A function failed on an event after all retries'),
  };
  for (const family of families) {
    const key = familyKey(family);
    const rules = rulesByFamily[family];
    const publish: IamStatement = { Effect: 'Allow', Action: ['sns:Publish'], Resource: { Ref: 'AlertTopic' } };
    functions[key] = {
      handler: `handlers/${family}.handler`,
      environment: { IDEMPOTENCY_TABLE: { Ref: 'IdempotencyTable' }, ...identity, ...alertSigningEnvironment() },
      description: `Remediation rules ${rules.map((rule) => rule.id).join(', ')}`.slice(0, 256),
      role: logicalId(key, 'Role'),
      reservedConcurrency: concurrency,
      destinations: { onFailure: { type: 'sqs', arn: { 'Fn::GetAtt': ['FailureQueue', 'Arn'] } } },
      events: [
        {
          eventBridge: {
            name: eventRuleName(params, key),
            pattern: familyPattern(family),
            retryPolicy: { maximumEventAge: 3600, maximumRetryAttempts: 8 },
            deadLetterQueueArn: { 'Fn::GetAtt': ['EventsDeadLetterQueue', 'Arn'] },
          },
        },
      ],
    };
    resources[logicalId(key, 'Role')] = functionRole(params, key, statementsFor(rules, config), [
      ...runtimeStatements(params, key),
      publish,
      alertSigningStatement(),
      idempotencyStatement(params, key, family),
    ]);
    Object.assign(resources, functionAlarms(params, key), blindSpotAlarm(params, key, family));
    extensions[logicalId(key, 'LogGroup')] = { Properties: { KmsKeyId: kmsKeyOf(params) } };
    // A read-only management event (STS AssumeRole) reaches only a rule in this state; the rule's pattern narrows it to what the rules need.
    if ((rules as readonly Rule[]).some((rule) => rule.triggers.some((trigger) => trigger.readOnly))) {
      extensions[eventRuleLogicalId(params, key)] = { Properties: { State: 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS' } };
    }
  }
  Object.assign(
    resources,
    alertSigningKeyResources(
      params,
      roles.map((role) => (resources[role] as { Properties: SignerRole }).Properties),
    ),
  );
  const notifier = notifierValues(params, config);
  Object.assign(functions, notifier.functions);
  Object.assign(resources, notifier.resources, emailSubscription(params, config));
  if (Object.keys(notifier.functions).length > 0) extensions[logicalId('notifier', 'LogGroup')] = { Properties: { KmsKeyId: kmsKeyOf(params) } };
  const outputs = {
    BotPrincipals: { Description: 'The exact ARNs of the bot\'s roles: BOT_PRINCIPALS for `remediate replay`, to skip the bot\'s own calls', Value: identity.BOT_PRINCIPALS },
    BotSessionNames: { Description: 'The session names of the bot\'s roles: BOT_SESSION_NAMES for `remediate replay`', Value: identity.BOT_SESSION_NAMES },
  };
  return {
    functions,
    // `extensions` merges into the resources the framework generates: here, the log groups get the stack key.
    resources: { Resources: resources, Outputs: outputs, extensions },
    embeddedConfig: embeddedConfigOf(config),
    families,
    kmsKey: kmsKeyOf(params),
    warnings: config.warnings,
  };
}
