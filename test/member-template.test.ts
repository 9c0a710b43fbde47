/**
 * The member template (`remediate member-template`), checked like the hub's:
 * forwarding rules whose patterns are exactly the union of the registry's,
 * each target with a retry policy and a dead-letter queue; member roles
 * created once (us-east-1), trusting only the hub's role of their family, and
 * holding exactly that role's statements, never a wildcard action.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { familyKey, familyPattern, loadDeployConfig, stackValues } from '../deploy/deployment.js';
import { forwardingPatterns, memberTemplate } from '../deploy/member-template.js';
import { allRules, families } from '../remediations/registry.js';
import { parseConfig } from '../engine/config.js';
import { decideAll, offlineFacts } from '../engine/decide.js';
import { allFixtureNames, loadEvent } from './helpers/fixtures.js';
import { iamActionFor } from '../engine/iam-actions.js';
import type { Service } from '../engine/types.js';
import { UNDO_INVERSES } from '../engine/undo-inverses.js';
import { expectUsageError, runCli } from './helpers/cli.js';

const CONFIG_FILE = join(import.meta.dirname, '..', 'remediation.config.yml');
const HUB = '111122223333';
const MODES = 'sg-open-ingress=remediate,ebs-public-snapshot=remediate';

type Resource = { Type: string; Condition?: string; Properties: Record<string, any> };

function template(options: { modes?: string; approvals?: boolean; hubRegions?: string[]; undoPrincipals?: string[] } = {}) {
  const config = loadDeployConfig(CONFIG_FILE, options.modes ? { modes: options.modes } : {});
  return memberTemplate({
    hubAccount: HUB,
    hubRegions: options.hubRegions ?? ['us-east-1', 'eu-west-1'],
    service: 'remediation-bot',
    stage: 'prod',
    config,
    approvals: options.approvals ?? false,
    ...(options.undoPrincipals ? { undoPrincipals: options.undoPrincipals } : {}),
  }) as {
    Resources: Record<string, Resource>;
    Conditions: Record<string, unknown>;
  };
}

const ofType = (resources: Record<string, Resource>, type: string) => Object.entries(resources).filter(([, resource]) => resource.Type === type);

describe('the member template', () => {
  it('forwards exactly the union of the families\' patterns, to the hub\'s bus in the same Region, with a retry policy and a dead-letter queue', () => {
    const { Resources } = template();
    const rules = ofType(Resources, 'AWS::Events::Rule');
    expect(rules.length).toBeGreaterThanOrEqual(1);
    const forwarded = rules.flatMap(([, rule]) => {
      const pattern = rule.Properties['EventPattern'] as { $or?: unknown[] };
      expect(JSON.stringify(pattern).length, 'EventBridge refuses a pattern over 4,096 characters').toBeLessThanOrEqual(4096);
      return pattern.$or ?? [pattern];
    });
    expect(forwarded).toStrictEqual(families.map((family) => familyPattern(family.name)));
    for (const [, rule] of rules) {
      expect(rule.Properties['EventBusName']).toBe('default');
      expect(rule.Properties['Targets']).toStrictEqual([
        {
          Id: 'hub',
          Arn: { 'Fn::Sub': `arn:\${AWS::Partition}:events:\${AWS::Region}:${HUB}:event-bus/remediation-bot-prod-hub` },
          RoleArn: { 'Fn::GetAtt': ['ForwardRole', 'Arn'] },
          RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 8 },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['ForwardDeadLetterQueue', 'Arn'] } },
        },
      ]);
    }
    // The forwarding role may only put events on the hub's bus.
    expect(Resources['ForwardRole']?.Properties['Policies']).toStrictEqual([
      { PolicyName: 'forward', PolicyDocument: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: ['events:PutEvents'], Resource: rules[0]?.[1].Properties['Targets'][0].Arn }] } },
    ]);
  });

  it('packs patterns into as few rules as EventBridge allows, and their union is unchanged', () => {
    const patterns = families.map((family) => familyPattern(family.name));
    const many = [...patterns, ...patterns, ...patterns];
    const packed = forwardingPatterns(many);
    expect(packed.length).toBeGreaterThan(1);
    for (const pattern of packed) expect(JSON.stringify(pattern).length).toBeLessThanOrEqual(4096);
    expect(packed.flatMap((pattern) => (pattern as { $or?: unknown[] }).$or ?? [pattern])).toStrictEqual(many);
  });

  it.each([
    ['the default config (every rule proposes)', {}],
    ['two rules in remediate', { modes: MODES }],
    ['approvals on', { modes: MODES, approvals: true }],
  ])('gives each member role exactly the statements of the hub\'s role of its family, with %s', (_label, options: { modes?: string; approvals?: boolean }) => {
    const { Resources } = template(options);
    const hub = stackValues(CONFIG_FILE, { service: 'remediation-bot', stage: 'prod', region: 'us-east-1', ...(options.modes ? { modes: options.modes } : {}), ...(options.approvals ? { approvals: 'true' } : {}) });
    for (const family of families) {
      const key = familyKey(family.name);
      const member = Resources[`${key.charAt(0).toUpperCase()}${key.slice(1)}MemberRole`];
      const hubRole = (hub.resources.Resources as Record<string, Resource>)[`${key.charAt(0).toUpperCase()}${key.slice(1)}Role`];
      const remediation = (policies: { PolicyName: string; PolicyDocument: { Statement: unknown[] } }[] | undefined) => policies?.find((p) => p.PolicyName === 'remediation')?.PolicyDocument.Statement ?? [];
      // The hub's role acts in its own Region; the member role (global) in each hub Region, and no other.
      const hubStatements = JSON.stringify(remediation(hubRole?.Properties['Policies']));
      const inRegion = (region: string) => JSON.parse(hubStatements.replaceAll('${AWS::Region}', region)) as { Resource: unknown }[];
      const [east, west] = [inRegion('us-east-1'), inRegion('eu-west-1')];
      const expected = east.map((statement, i) => {
        const resources = (value: unknown) => [value].flat();
        const both = [...new Map([...resources(statement.Resource), ...resources(west[i]?.Resource)].map((r) => [JSON.stringify(r), r])).values()];
        return { ...statement, Resource: both.length === 1 && !Array.isArray(statement.Resource) ? both[0] : both };
      });
      expect(remediation(member?.Properties['Policies']), family.name).toStrictEqual(expected);
      expect(JSON.stringify(member?.Properties['Policies'] ?? []), family.name).not.toContain('AWS::Region');
      for (const statement of remediation(member?.Properties['Policies']) as { Action: string[] }[]) {
        for (const action of statement.Action) expect(action, family.name).toMatch(/^[a-z0-9-]+:[A-Za-z0-9]+$/);
      }
    }
  });

  it('creates each member role once (us-east-1), on the bot\'s path, trusting only the hub\'s role of its family in each hub Region', () => {
    const { Resources, Conditions } = template();
    expect(Conditions).toStrictEqual({ RolesRegion: { 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'us-east-1'] } });
    const roles = ofType(Resources, 'AWS::IAM::Role').filter(([id]) => id.endsWith('MemberRole'));
    expect(roles).toHaveLength(families.length);
    for (const family of families) {
      const key = familyKey(family.name);
      const role = Resources[`${key.charAt(0).toUpperCase()}${key.slice(1)}MemberRole`];
      expect(role?.Condition).toBe('RolesRegion');
      expect([role?.Properties['Path'], role?.Properties['RoleName']]).toStrictEqual(['/remediation-bot/', `remediation-bot-member-${family.name}`]);
      expect(role?.Properties['AssumeRolePolicyDocument']).toStrictEqual({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: {
              AWS: [`arn:aws:iam::${HUB}:role/remediation-bot/remediation-bot-prod-us-east-1-${family.name}`, `arn:aws:iam::${HUB}:role/remediation-bot/remediation-bot-prod-eu-west-1-${family.name}`],
            },
            Action: 'sts:AssumeRole',
          },
        ],
      });
    }
  });
});

describe('the undo role (--undo-principals)', () => {
  const OPERATORS = [`arn:aws:iam::${HUB}:role/SecurityOps`, 'arn:aws:iam::999988887777:user/alice'];
  const undoStatements = (resources: Record<string, Resource>) =>
    (resources['UndoRole']?.Properties['Policies'] as { PolicyDocument: { Statement: { Effect: string; Action: string[]; Resource: unknown; Condition?: unknown }[] } }[])[0]?.PolicyDocument.Statement ?? [];
  /** The hub roles' granted writes (their policies, as packaged) → the IAM actions that may undo them, from the inverse table. */
  function inversesOfHubWrites(modes: string): string[] {
    const hub = stackValues(CONFIG_FILE, { service: 'remediation-bot', stage: 'prod', region: 'us-east-1', modes });
    const granted = new Set(
      Object.values(hub.resources.Resources as Record<string, Resource>)
        .filter((resource) => resource.Type === 'AWS::IAM::Role')
        .flatMap((role) => (role.Properties['Policies'] as { PolicyName: string; PolicyDocument: { Statement: { Effect: string; Action: string[] }[] } }[] | undefined) ?? [])
        .filter((policy) => policy.PolicyName === 'remediation')
        .flatMap((policy) => policy.PolicyDocument.Statement.filter((statement) => statement.Effect === 'Allow').flatMap((statement) => statement.Action)),
    );
    const iam = (key: string) => iamActionFor(key.split(':')[0] as Service, key.split(':')[1] ?? '');
    return [...new Set(Object.entries(UNDO_INVERSES).filter(([applied]) => granted.has(iam(applied))).flatMap(([, inverses]) => inverses.map((inverse) => iam(inverse.undo))))].sort();
  }

  it('trusts exactly the people named, is created once (us-east-1), off the bot\'s path, and can undo exactly what the bot may apply', () => {
    const { Resources } = template({ modes: MODES, undoPrincipals: OPERATORS });
    const role = Resources['UndoRole'];
    expect(role?.Condition).toBe('RolesRegion');
    expect([role?.Properties['RoleName'], role?.Properties['Path']]).toStrictEqual(['remediation-bot-undo', undefined]);
    // Their accounts, narrowed to exactly their ARNs (which survive a permission set provisioned again).
    expect(role?.Properties['AssumeRolePolicyDocument']).toStrictEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { AWS: [`arn:aws:iam::${HUB}:root`, 'arn:aws:iam::999988887777:root'] }, Action: 'sts:AssumeRole', Condition: { ArnEquals: { 'aws:PrincipalArn': OPERATORS } } }],
    });
    const statements = undoStatements(Resources);
    const actions = [...new Set(statements.filter((statement) => statement.Effect === 'Allow').flatMap((statement) => statement.Action))].sort();
    expect(actions).toStrictEqual(inversesOfHubWrites(MODES));
    expect(actions).toStrictEqual(['ec2:AuthorizeSecurityGroupIngress', 'ec2:ModifySnapshotAttribute']);
    // On the same resources as the writes they reverse, in each hub Region.
    expect(statements.find((statement) => statement.Action.includes('ec2:AuthorizeSecurityGroupIngress'))?.Resource).toStrictEqual([
      { 'Fn::Sub': 'arn:${AWS::Partition}:ec2:us-east-1:${AWS::AccountId}:security-group/*' },
      { 'Fn::Sub': 'arn:${AWS::Partition}:ec2:eu-west-1:${AWS::AccountId}:security-group/*' },
    ]);
  });

  it('never touches the bot\'s roles or itself, and never passes a role: an instance profile is given back by hand', () => {
    const every = families.flatMap((family) => family.rules.map((rule) => `${rule.id}=remediate`)).join(',');
    const statements = undoStatements(template({ modes: every, undoPrincipals: OPERATORS }).Resources);
    const allowed = statements.filter((statement) => statement.Effect === 'Allow').flatMap((statement) => statement.Action);
    expect(allowed).not.toContain('iam:PassRole');
    expect(allowed).not.toContain('ec2:AssociateIamInstanceProfile');
    const roleActions = [...new Set(allowed.filter((action) => /^iam:(Attach|Put|Detach|Update)Role/.test(action)))].sort();
    expect(roleActions.length).toBeGreaterThan(0);
    expect(statements.filter((statement) => statement.Effect === 'Deny')).toStrictEqual([
      {
        Effect: 'Deny',
        Action: roleActions,
        Resource: [{ 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/remediation-bot/*' }, { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/remediation-bot-undo' }],
      },
    ]);
  });

  it("holds the action of every undo step the rules' plans carry for the recorded events (an instance profile's aside)", async () => {
    const every = families.flatMap((family) => family.rules.map((rule) => `${rule.id}=remediate`)).join(',');
    const allowed = new Set(undoStatements(template({ modes: every, undoPrincipals: OPERATORS }).Resources).filter((statement) => statement.Effect === 'Allow').flatMap((statement) => statement.Action));
    const config = parseConfig({ defaultMode: 'remediate' }, allRules);
    const needed = new Set<string>();
    for (const name of allFixtureNames()) {
      for (const decision of await decideAll(loadEvent(name), allRules, { config, env: {}, facts: offlineFacts, now: new Date('2025-03-10T00:00:00Z') })) {
        if (decision.verdict.kind !== 'violation') continue;
        for (const step of decision.verdict.plan) if (step.undo) needed.add(iamActionFor(step.undo.service, step.undo.operation));
      }
    }
    expect(needed.size).toBeGreaterThan(10);
    expect([...needed].filter((action) => !allowed.has(action) && action !== 'ec2:AssociateIamInstanceProfile').sort()).toStrictEqual([]);
  });

  it('is absent unless asked for, and when every rule proposes', () => {
    expect(template({ modes: MODES }).Resources['UndoRole']).toBeUndefined();
    expect(template({ undoPrincipals: OPERATORS }).Resources['UndoRole']).toBeUndefined();
  });

  it.each([
    [['--undo-principals', '*'], '--undo-principals: "*" is not the ARN of an IAM role or user (no wildcards)'],
    [['--undo-principals', `arn:aws:iam::${HUB}:root`], `--undo-principals: "arn:aws:iam::${HUB}:root" is not the ARN of an IAM role or user (no wildcards)`],
    [['--undo-principals', `arn:aws:iam::${HUB}:role/*`], `--undo-principals: "arn:aws:iam::${HUB}:role/*" is not the ARN of an IAM role or user (no wildcards)`],
    [['--undo-principals', OPERATORS[0] ?? ''], '--undo-principals: with these modes the bot applies nothing in member accounts (every rule proposes, approvals off), so there is nothing to undo'],
  ])('remediate member-template %j refuses in one line', async (argv, message) => {
    await expectUsageError(['member-template', '--hub-account', HUB, '--config', CONFIG_FILE, ...argv], `remediate: ${message} (see "remediate member-template --help")`, []);
  });
});

describe('remediate member-template', () => {
  it('prints the template as JSON, with no credentials and no AWS call', async () => {
    const { code, stdout, stderr } = await runCli(['member-template', '--hub-account', HUB, '--stage', 'prod', '--hub-regions', 'us-east-1,eu-west-1', '--config', CONFIG_FILE]);
    expect([code, stderr]).toStrictEqual([0, []]);
    expect(JSON.parse(stdout.join('\n'))).toStrictEqual(template());
  });

  it.each([
    [['member-template'], "remediate: --hub-account must be the hub account's 12-digit id (see \"remediate member-template --help\")"],
    [['member-template', '--hub-account', HUB, '--hub-regions', 'mars-1'], 'remediate: --hub-regions: "mars-1" is not an AWS Region (see "remediate member-template --help")'],
  ])('refuses %j in one line', async (argv, line) => {
    await expectUsageError(argv, line, []);
  });
});
