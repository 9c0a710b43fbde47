/**
 * The deploy parameters are checked at package time, every one, before
 * anything is derived: a refused value stops `serverless package` with one
 * line per problem (`param <name>: …`) and no stack trace.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { deployParamProblems, deploymentValues, DeployParamError, LOG_RETENTION_DAYS, type PackageParams } from '../deploy/deployment.js';
import { rulesByFamily } from '../remediations/registry.js';
import { describePackaged } from './helpers/packaged.js';

const ROOT = join(import.meta.dirname, '..');
const DEFAULTS = (parseYaml(readFileSync(join(ROOT, 'serverless.yml'), 'utf8'), { logLevel: 'silent' }) as { params: { default: Record<string, string | number> } }).params.default;
const KNOWN = Object.keys(DEFAULTS);
const STACK = { service: 'remediation-bot', stage: 'dev', region: 'us-east-1' } as const;
const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:111122223333:secret:remediation-bot/slack-webhook-AbCdEf';
const KEY_ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

/** The parameters as osls gives them: the defaults of serverless.yml, overridden by `--param` values (strings). */
function paramsWith(given: Record<string, string> = {}): PackageParams {
  return { ...STACK, ...DEFAULTS, ...given };
}

/** The problems of the parameters with only `given` passed on the command line. */
function problems(given: Record<string, string>): string[] {
  return deployParamProblems(paramsWith(given), { given: Object.keys(given), known: KNOWN, projectDir: ROOT });
}

describe('deployParamProblems', () => {
  it('accepts the defaults of serverless.yml', () => {
    expect(problems({})).toStrictEqual([]);
  });

  it.each([
    ['slackWebhookSecret', SECRET_ARN],
    ['slackWebhookSecret', '/remediation-bot/slack-webhook'],
    ['slackWebhookSecret', 'arn:aws:ssm:eu-west-1:111122223333:parameter/remediation-bot/slack-webhook'],
    ['slackWebhookSecret', 'arn:aws-us-gov:secretsmanager:us-gov-west-1:111122223333:secret:slack-Ab12Cd'],
    ['kmsKeyArn', KEY_ARN],
    ['kmsKeyArn', 'arn:aws:kms:us-east-1:111122223333:key/mrk-1234abcd12ab34cd56ef1234567890ab'],
    ['alertEmail', 'secops@example.com'],
    ['alertEmail', 'sec.ops+alerts@mail.example.co.uk'],
    ['modes', 'sg-open-ingress=remediate, cloudtrail-logging-weakened=notify'],
    ['exemptionTagKey', 'remediation:exempt'],
    ['exemptionTagKey', 'équipe/exemption @ 2026'],
    ['configFile', 'test/fixtures/notification-thresholds.config.yml'],
    ['logRetentionDays', '1096'],
    ['createTrail', 'true'],
    ['createTrail', 'false'],
    ['remediationConcurrency', '100'],
    ['historyRetentionDays', '1'],
    ['historyRetentionDays', '3650'],
    ['approvals', 'true'],
    ['proposalDays', '30'],
    ['slackSigningSecret', ''],
  ])('accepts %s=%s', (name, value) => {
    expect(problems({ [name]: value })).toStrictEqual([]);
  });

  it('accepts every retention period CloudWatch Logs allows, as given on the command line or as a number', () => {
    for (const days of LOG_RETENTION_DAYS) {
      expect(problems({ logRetentionDays: String(days) }), String(days)).toStrictEqual([]);
      expect(deployParamProblems({ ...STACK, logRetentionDays: days }), String(days)).toStrictEqual([]);
    }
  });

  it.each([
    [
      'slackWebhookSecret',
      'remediation-bot/slack-webhook',
      'param slackWebhookSecret: "remediation-bot/slack-webhook" is a name, not an ARN (an SSM parameter name starts with /): give the secret\'s ARN: aws secretsmanager describe-secret --secret-id remediation-bot/slack-webhook --query ARN --output text --region us-east-1',
    ],
    [
      'slackWebhookSecret',
      'arn:aws:secretsmanager:us-east-1:111122223333:secret:remediation-bot/slack-webhook',
      'param slackWebhookSecret: "arn:aws:secretsmanager:us-east-1:111122223333:secret:remediation-bot/slack-webhook" lacks the 6 characters Secrets Manager appends to the name: give the secret\'s ARN: aws secretsmanager describe-secret --secret-id remediation-bot/slack-webhook --query ARN --output text --region us-east-1',
    ],
    ['slackWebhookSecret', 'arn:aws:s3:::my-bucket/webhook', 'param slackWebhookSecret: "arn:aws:s3:::my-bucket/webhook" is neither a Secrets Manager secret ARN nor an SSM parameter ARN'],
    ['slackWebhookSecret', '/slack webhook', 'param slackWebhookSecret: "/slack webhook" is not an SSM parameter name (letters, digits and _ . - /)'],
    [
      'kmsKeyArn',
      'alias/aws/sns',
      'param kmsKeyArn: "alias/aws/sns" is an AWS managed key, whose key policy nobody can change: it cannot let CloudWatch (alarms publish to the topic) or EventBridge (dead letters go to the queue) use the key, so those messages would be lost; leave kmsKeyArn empty (the stack creates a key) or give a customer managed key\'s ARN',
    ],
    [
      'kmsKeyArn',
      'arn:aws:kms:us-east-1:111122223333:alias/aws/sqs',
      'param kmsKeyArn: "arn:aws:kms:us-east-1:111122223333:alias/aws/sqs" is an AWS managed key, whose key policy nobody can change: it cannot let CloudWatch (alarms publish to the topic) or EventBridge (dead letters go to the queue) use the key, so those messages would be lost; leave kmsKeyArn empty (the stack creates a key) or give a customer managed key\'s ARN',
    ],
    ['kmsKeyArn', 'alias/remediation', 'param kmsKeyArn: "alias/remediation" is an alias: give the key\'s ARN: aws kms describe-key --key-id alias/remediation --query KeyMetadata.Arn --output text --region us-east-1'],
    ['kmsKeyArn', '1234abcd-12ab-34cd-56ef-1234567890ab', 'param kmsKeyArn: "1234abcd-12ab-34cd-56ef-1234567890ab" is not a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<key-id>)'],
    [
      'kmsKeyArn',
      'arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab',
      'param kmsKeyArn: "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab" is a key in eu-west-1: the topic and queues of a stack in us-east-1 need a key of their own Region',
    ],
    ['createTrail', 'yes', 'param createTrail: expected true or false, got "yes"'],
    ['createTrail', 'True', 'param createTrail: expected true or false, got "True"'],
    ['alertEmail', 'not-an-email', 'param alertEmail: "not-an-email" is not one email address (empty: no email subscription)'],
    ['alertEmail', 'a@example.com,b@example.com', 'param alertEmail: "a@example.com,b@example.com" is not one email address (empty: no email subscription)'],
    ['configFile', 'nope.yml', `param configFile: "nope.yml": no such file (relative to the project directory: ${join(ROOT, 'nope.yml')})`],
    ['configFile', 'test', `param configFile: "test" is not a file (${join(ROOT, 'test')})`],
    [
      'logRetentionDays',
      '91',
      'param logRetentionDays: expected one of CloudWatch Logs\' retention periods (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653), got "91"',
    ],
    ['remediationConcurrency', '0', 'param remediationConcurrency: expected an integer from 1 to 100, got "0"'],
    ['remediationConcurrency', '2.5', 'param remediationConcurrency: expected an integer from 1 to 100, got "2.5"'],
    ['historyRetentionDays', '0', 'param historyRetentionDays: expected a whole number of days from 1 to 3650, got "0"'],
    ['historyRetentionDays', '3651', 'param historyRetentionDays: expected a whole number of days from 1 to 3650, got "3651"'],
    ['historyRetentionDays', '7d', 'param historyRetentionDays: expected a whole number of days from 1 to 3650, got "7d"'],
    ['approvals', 'yes', 'param approvals: expected true or false, got "yes"'],
    ['proposalDays', '31', 'param proposalDays: expected a whole number of days from 1 to 30, got "31"'],
    ['modes', 'sg-open-ingress', 'param modes: "sg-open-ingress" must be <rule-id>=<off|notify|propose|remediate>'],
    ['modes', 'sg-open-ingress=fix', 'param modes: "sg-open-ingress=fix" must be <rule-id>=<off|notify|propose|remediate>'],
    ['modes', 'sg-open-ingres=remediate', 'param modes: no rule "sg-open-ingres" (in "sg-open-ingres=remediate"): did you mean sg-open-ingress?'],
    ['modes', 'everything=remediate', 'param modes: no rule "everything" (in "everything=remediate"): `npx remediate rules` lists the rule ids'],
    ['modes', 'sg-open-ingress=notify,sg-open-ingress=remediate', 'param modes: sg-open-ingress is given twice'],
    ['exemptionTagKey', 'aws:exempt', 'param exemptionTagKey: "aws:exempt" starts with "aws:", which AWS reserves for its own tags'],
    ['exemptionTagKey', 'exempt!', 'param exemptionTagKey: "exempt!" is not a tag key: 1 to 128 letters, digits, spaces and _ . : / = + - @'],
    ['exemptionTagKey', 'k'.repeat(129), `param exemptionTagKey: "${'k'.repeat(129)}" is not a tag key: 1 to 128 letters, digits, spaces and _ . : / = + - @`],
  ])('refuses %s=%s with one line', (name, value, line) => {
    expect(problems({ [name]: value })).toStrictEqual([line]);
  });

  it('refuses a parameter serverless.yml does not declare, with the near miss when there is one', () => {
    expect(problems({ foo: 'bar' })).toStrictEqual([`param foo: unknown parameter: the parameters are ${KNOWN.join(', ')}`]);
    expect(problems({ alertemail: 'secops@example.com' })).toStrictEqual(['param alertemail: unknown parameter: did you mean alertEmail?']);
    expect(problems({ kmsKey: KEY_ARN })).toStrictEqual(['param kmsKey: unknown parameter: did you mean kmsKeyArn?']);
  });

  it('lists every problem, one line each, in the order serverless.yml declares the parameters', () => {
    expect(problems({ createTrail: 'yes', foo: 'bar', alertEmail: 'x', modes: 'a=b' })).toStrictEqual([
      `param foo: unknown parameter: the parameters are ${KNOWN.join(', ')}`,
      'param alertEmail: "x" is not one email address (empty: no email subscription)',
      'param modes: "a=b" must be <rule-id>=<off|notify|propose|remediate>',
      'param createTrail: expected true or false, got "yes"',
    ]);
  });
});

describe('deploymentValues', () => {
  it('derives the stack from good parameters: every function named after its family', () => {
    const values = deploymentValues(paramsWith({ slackWebhookSecret: SECRET_ARN, kmsKeyArn: KEY_ARN, modes: 'sg-open-ingress=remediate' }), { given: ['slackWebhookSecret', 'kmsKeyArn', 'modes'], known: KNOWN, projectDir: ROOT });
    const names = Object.values(values.functions).map((fn) => (fn as { name: string }).name);
    expect(names).toStrictEqual([...Object.keys(rulesByFamily), 'notifier'].map((family) => `remediation-bot-dev-${family}`));
    expect(values.kmsKey).toBe(KEY_ARN);
    expect((JSON.parse(values.embeddedConfig) as { rules: Record<string, { mode: string }> }).rules['sg-open-ingress']?.mode).toBe('remediate');
  });

  it('throws a DeployParamError holding every problem, one line each', () => {
    const refuse = () => deploymentValues(paramsWith({ kmsKeyArn: 'alias/aws/sns', configFile: 'nope.yml' }), { given: ['kmsKeyArn', 'configFile'], known: KNOWN, projectDir: ROOT });
    expect(refuse).toThrow(DeployParamError);
    expect(refuse).toThrow(
      [
        'param kmsKeyArn: "alias/aws/sns" is an AWS managed key, whose key policy nobody can change: it cannot let CloudWatch (alarms publish to the topic) or EventBridge (dead letters go to the queue) use the key, so those messages would be lost; leave kmsKeyArn empty (the stack creates a key) or give a customer managed key\'s ARN',
        `param configFile: "nope.yml": no such file (relative to the project directory: ${join(ROOT, 'nope.yml')})`,
      ].join('\n'),
    );
  });

  it('gives every function, the notifier included, an errors alarm and a throttles alarm', () => {
    const values = deploymentValues(paramsWith({ slackWebhookSecret: SECRET_ARN }), { projectDir: ROOT });
    const alarms = Object.values(values.resources.Resources)
      .filter((resource) => (resource as { Type: string }).Type === 'AWS::CloudWatch::Alarm')
      .map((resource) => (resource as { Properties: { MetricName?: string; Dimensions?: { Value: unknown }[] } }).Properties)
      .filter((alarm) => alarm.MetricName === 'Errors' || alarm.MetricName === 'Throttles')
      .map((alarm) => `${String(alarm.Dimensions?.[0]?.Value)} ${String(alarm.MetricName)}`);
    const names = Object.values(values.functions).map((fn) => (fn as { name: string }).name);
    expect(names).toContain('remediation-bot-dev-notifier');
    expect(alarms.sort()).toStrictEqual(names.flatMap((name) => [`${name} Errors`, `${name} Throttles`]).sort());
  });
});

/** osls calls the resolver with the CLI options and `resolveVariable`; this is that call, offline. */
async function resolveValues(given: Record<string, string>): Promise<unknown> {
  const resolver = createRequire(import.meta.url)('../deploy/values.cjs') as (input: { options: { param: string[] | null }; resolveVariable: (address: string) => Promise<unknown> }) => Promise<unknown>;
  const params = paramsWith(given) as unknown as Record<string, unknown>;
  const variables: Record<string, unknown> = { 'self:service': STACK.service, 'sls:stage': STACK.stage, 'self:provider.region': STACK.region, 'self:params.default': DEFAULTS };
  return resolver({
    // Without any --param, osls gives null.
    options: { param: Object.keys(given).length === 0 ? null : Object.entries(given).map(([name, value]) => `${name}=${value}`) },
    resolveVariable: (address) => Promise.resolve(address.startsWith('param:') ? params[address.slice('param:'.length)] : variables[address]),
  });
}

describe('deploy/values.cjs', () => {
  const failure = (given: Record<string, string>) =>
    resolveValues(given).then(
      () => expect.fail('expected the parameters to be refused'),
      (caught: unknown) => caught as Error,
    );

  it("refuses bad parameters with their lines as the whole stack (osls prints the stack), indented under osls's item", async () => {
    const error = await failure({ createTrail: 'yes', foo: 'bar' });
    expect(error.name).toBe('DeployParamError');
    expect(error.stack).toBe(`param foo: unknown parameter: the parameters are ${KNOWN.join(', ')}\n    param createTrail: expected true or false, got "yes"`);
  });

  it('refuses a bad config file with its problems prefixed by its name, and no stack', async () => {
    const configFile = join(mkdtempSync(join(tmpdir(), 'deploy-params-')), 'bad.config.yml');
    writeFileSync(configFile, "ignorePrincipals: ['arn:aws:iam::*:role/ops']\nrules:\n  sg-open-ingress: { mode: sometimes }\n");
    const error = await failure({ configFile });
    expect(error.name).toBe('ConfigError');
    expect(error.stack?.split('\n    ')).toStrictEqual([
      `${configFile}: ignorePrincipals.0: "arn:aws:iam::*:role/ops" must be an ARN with its 12-digit account id: a wildcard account matches principals in any account`,
      `${configFile}: rules.sg-open-ingress.mode: expected one of off, notify, propose, remediate, got "sometimes"`,
    ]);
  });

  it('derives the values without any --param', async () => {
    const values = (await resolveValues({})) as { functions: Record<string, { name: string }> };
    expect(values.functions['iam']?.name).toBe('remediation-bot-dev-iam');
  });

  it('derives the values from good parameters', async () => {
    const values = (await resolveValues({ alertEmail: 'secops@example.com', createTrail: 'true', logRetentionDays: '365' })) as { functions: Record<string, { name: string }> };
    expect(values.functions['securityGroups']?.name).toBe('remediation-bot-dev-security-groups');
  });
});

describePackaged('npx serverless package with a bad parameter', () => {
  it('stops with the one-line message, no stack trace, and a non-zero exit', () => {
    const env = { ...process.env, AWS_ACCESS_KEY_ID: '', AWS_SECRET_ACCESS_KEY: '', AWS_PROFILE: '', SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' };
    // Variables are resolved before osls touches .serverless/: a refused parameter leaves the package the global setup built.
    const run = spawnSync(join(ROOT, 'node_modules', '.bin', 'serverless'), ['package', '--param=kmsKeyArn=alias/aws/sns'], { cwd: ROOT, env, encoding: 'utf8' });
    const output = `${run.stdout}${run.stderr}`;
    expect(run.status).toBe(1);
    expect(output.split('\n')).toContain(
      '  - Cannot resolve variable at "custom.stack": Cannot resolve "values.cjs": Returned JS function errored with: param kmsKeyArn: "alias/aws/sns" is an AWS managed key, whose key policy nobody can change: it cannot let CloudWatch (alarms publish to the topic) or EventBridge (dead letters go to the queue) use the key, so those messages would be lost; leave kmsKeyArn empty (the stack creates a key) or give a customer managed key\'s ARN',
    );
    expect(output).not.toMatch(/^\s+at /m);
  });
});
