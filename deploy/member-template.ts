/**
 * The member template (`npx remediate member-template`): plain CloudFormation
 * (JSON) for a StackSet over the organisation's accounts and Regions,
 * generated from the registry, so that nothing in it is typed twice:
 *
 * - in every Region, rules on the default bus whose patterns together are
 *   exactly the union of the families' patterns (`$or` of the same patterns
 *   the hub's functions use), forwarding to the hub's bus in the same Region,
 *   each target with its role, a retry policy and a dead-letter queue;
 * - per family, the member role the hub's function assumes
 *   (`/remediation-bot/remediation-bot-member-<family>`): exactly the
 *   statements the family's role holds in the hub for the same config, and a
 *   trust that names only the hub's role of that family, in each hub Region.
 *   IAM roles are global: they are created only by the stack instance in
 *   us-east-1 (condition `RolesRegion`), so deploy the StackSet to us-east-1 too.
 */
import type { Config } from '../engine/config.js';
import { MEMBER_ROLE_PATH, memberRoleName, UNDO_ROLE_NAME } from '../engine/accounts.js';
import type { EventPatternDocument } from '../engine/patterns.js';
import { families } from '../remediations/registry.js';
import { familyPattern, functionRoleName, hubBusName, logicalId, receivesReadOnlyEvents, statementsFor, undoStatementsFor, type IamStatement } from './deployment.js';

export interface MemberTemplateOptions {
  /** The hub (security or tooling) account. */
  readonly hubAccount: string;
  /** The Regions the hub is deployed in: each hub Region's family role may assume the member roles. */
  readonly hubRegions: readonly string[];
  readonly service: string;
  readonly stage: string;
  readonly partition?: string;
  /** The hub's config (modes): the member roles hold what the hub's roles hold for it. */
  readonly config: Config;
  /** The hub's `approvals` parameter: proposals' writes are granted too. */
  readonly approvals?: boolean;
  /**
   * People (IAM role or user ARNs, in the hub account or elsewhere) who may
   * run `remediate undo` in the member accounts: they may assume the undo
   * role, which can reverse exactly what the bot may apply there.
   */
  readonly undoPrincipals?: readonly string[];
}


/** EventBridge refuses an event pattern over 4,096 characters (PutRule `EventPattern`): kept well under, whatever whitespace CloudFormation adds. */
const MAX_PATTERN_CHARS = 3_600;

/** The families' patterns packed into as few `$or` patterns as fit EventBridge's limit; together exactly their union. */
export function forwardingPatterns(patterns: readonly EventPatternDocument[]): EventPatternDocument[] {
  const packed: EventPatternDocument[][] = [];
  for (const pattern of patterns) {
    const last = packed.at(-1);
    if (last && JSON.stringify({ $or: [...last, pattern] }).length <= MAX_PATTERN_CHARS) last.push(pattern);
    else packed.push([pattern]);
  }
  return packed.map((group) => (group.length === 1 && group[0] ? group[0] : ({ $or: group } as unknown as EventPatternDocument)));
}

const REGION_PLACEHOLDER = '${AWS::Region}';

/** A resource or condition value written for one Region, for each of the hub's Regions instead. */
function perRegion(value: unknown, regions: readonly string[]): unknown {
  if (Array.isArray(value)) {
    // A list's item that becomes one per Region is spliced in.
    return value.flatMap((item) => {
      const each = perRegion(item, regions);
      return Array.isArray(each) && !Array.isArray(item) ? each : [each];
    });
  }
  if (typeof value === 'object' && value !== null && 'Fn::Sub' in value) {
    const text = (value as { readonly 'Fn::Sub': string })['Fn::Sub'];
    if (!text.includes(REGION_PLACEHOLDER)) return value;
    const each = regions.map((region) => ({ 'Fn::Sub': text.replaceAll(REGION_PLACEHOLDER, region) }));
    return each.length === 1 ? each[0] : each;
  }
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, perRegion(inner, regions)]));
  return value;
}

/**
 * A member role is global, created by the stack instance in us-east-1, and
 * the hub's functions act with it in every hub Region: a statement the hub's
 * role holds for its own Region (`${AWS::Region}`) is held here for each hub
 * Region, and for no other.
 */
export function inHubRegions(statements: readonly IamStatement[], regions: readonly string[]): IamStatement[] {
  return statements.map((statement) => perRegion(statement, regions) as IamStatement);
}

export function memberTemplate(options: MemberTemplateOptions): Record<string, unknown> {
  const partition = options.partition ?? 'aws';
  const { service, stage } = options;
  const hubBus = { 'Fn::Sub': `arn:\${AWS::Partition}:events:\${AWS::Region}:${options.hubAccount}:event-bus/${hubBusName(service, stage)}` };
  const patterns = forwardingPatterns(families.map((family) => familyPattern(family.name)));
  const readOnly = receivesReadOnlyEvents(families.flatMap((family) => family.rules));
  const resources: Record<string, unknown> = {
    ForwardDeadLetterQueue: {
      Type: 'AWS::SQS::Queue',
      Properties: { QueueName: `${service}-${stage}-forward-dlq`, MessageRetentionPeriod: 1_209_600, SqsManagedSseEnabled: true },
    },
    ForwardRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        // IAM roles are global and this one exists in every Region: CloudFormation names it. Not on the bot's
        // path: it is EventBridge's, and can do nothing but put events on the hub's bus.
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { Service: 'events.amazonaws.com' }, Action: 'sts:AssumeRole', Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } } }],
        },
        Policies: [{ PolicyName: 'forward', PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['events:PutEvents'], Resource: hubBus }] } }],
      },
    },
  };
  const ruleArns: unknown[] = [];
  for (const [i, pattern] of patterns.entries()) {
    const id = `ForwardRule${patterns.length > 1 ? i + 1 : ''}`;
    ruleArns.push({ 'Fn::GetAtt': [id, 'Arn'] });
    resources[id] = {
      Type: 'AWS::Events::Rule',
      Properties: {
        Name: `${service}-${stage}-forward${patterns.length > 1 ? `-${i + 1}` : ''}`,
        Description: 'The CloudTrail events the remediation bot acts on, forwarded to its hub (generated by remediate member-template)',
        EventBusName: 'default',
        // A read-only management event (STS AssumeRole) reaches a rule only in this state.
        State: readOnly ? 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS' : 'ENABLED',
        EventPattern: pattern,
        Targets: [
          {
            Id: 'hub',
            Arn: hubBus,
            RoleArn: { 'Fn::GetAtt': ['ForwardRole', 'Arn'] },
            RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 8 },
            DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['ForwardDeadLetterQueue', 'Arn'] } },
          },
        ],
      },
    };
  }
  resources['ForwardDeadLetterQueuePolicy'] = {
    Type: 'AWS::SQS::QueuePolicy',
    Properties: {
      Queues: [{ Ref: 'ForwardDeadLetterQueue' }],
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Resource: { 'Fn::GetAtt': ['ForwardDeadLetterQueue', 'Arn'] },
            Condition: { ArnEquals: { 'aws:SourceArn': ruleArns } },
          },
        ],
      },
    },
  };
  for (const family of families) {
    const statements = inHubRegions(statementsFor(family.rules, options.config, { approvals: options.approvals === true }), options.hubRegions);
    const hubRoles = options.hubRegions.map((region) => `arn:${partition}:iam::${options.hubAccount}:role/remediation-bot/${functionRoleName({ service, stage, region }, family.name)}`);
    resources[logicalId(family.name, 'MemberRole')] = {
      Type: 'AWS::IAM::Role',
      Condition: 'RolesRegion',
      Properties: {
        Path: MEMBER_ROLE_PATH,
        RoleName: memberRoleName(family.name),
        Description: `Assumed by the remediation bot's ${family.name} function in account ${options.hubAccount}: exactly what its rules need`,
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Principal: { AWS: hubRoles }, Action: 'sts:AssumeRole' }],
        },
        ...(statements.length > 0 ? { Policies: [{ PolicyName: 'remediation', PolicyDocument: { Version: '2012-10-17', Statement: statements } }] } : {}),
      },
    };
  }
  const undoStatements = inHubRegions(
    undoStatementsFor(
      families.flatMap((family) => family.rules),
      options.config,
      { approvals: options.approvals === true },
    ),
    options.hubRegions,
  );
  if (options.undoPrincipals && options.undoPrincipals.length > 0 && undoStatements.length > 0) {
    resources['UndoRole'] = {
      Type: 'AWS::IAM::Role',
      Condition: 'RolesRegion',
      Properties: {
        RoleName: UNDO_ROLE_NAME,
        Description: `Assumed by remediate undo, run by the people named, to reverse what the remediation bot (hub ${options.hubAccount}) applied here: exactly the inverses of its writes`,
        MaxSessionDuration: 3600,
        // The principals' accounts, narrowed to exactly those ARNs: a role or user named by ARN in a trust policy
        // turns into an opaque id when it is recreated (an IAM Identity Center permission set provisioned again),
        // and one that does not exist yet would fail the stack; a condition on aws:PrincipalArn does neither.
        AssumeRolePolicyDocument: {
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Principal: { AWS: [...new Set(options.undoPrincipals.map((arn) => `${arn.split(':').slice(0, 5).join(':')}:root`))] },
              Action: 'sts:AssumeRole',
              Condition: { ArnEquals: { 'aws:PrincipalArn': [...options.undoPrincipals] } },
            },
          ],
        },
        Policies: [{ PolicyName: 'undo', PolicyDocument: { Version: '2012-10-17', Statement: undoStatements } }],
      },
    };
  }
  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Description: `remediation-bot member (${service}-${stage}, hub ${options.hubAccount}): forwards the rules' CloudTrail events to the hub, and the roles the hub's functions assume. Generated by remediate member-template.`,
    Conditions: { RolesRegion: { 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'] } },
    Resources: resources,
  };
}
