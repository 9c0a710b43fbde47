/**
 * What `serverless.yml` needs from the registry, computed in one place: one
 * function per rule family with its EventBridge pattern, its own IAM role
 * (exactly the union of its rules' permissions and lookups), alarms, and the
 * validated config to embed. `deploy/values.cjs` loads this module for osls;
 * tests import it directly.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve as resolvePath } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { configForAccount, modeFor, parseConfig, settingsFor, type Config } from '../engine/config.js';
import { patternForRules, type EventPatternDocument } from '../engine/patterns.js';
import { iamActionFor } from '../engine/iam-actions.js';
import { HISTORY_RETENTION_DAYS, HISTORY_TABLE_SCHEMA } from '../engine/history-store.js';
import { ConfigFault } from '../engine/errors.js';
import { alertSigningEnvironment, alertSigningKeyResources, alertSigningStatement, alertVerifyingStatement, type SignerRole } from './alert-signing.js';
import { MODES, type Permission, type Rule, type Service } from '../engine/types.js';
import { UNDO_INVERSES } from '../engine/undo-inverses.js';
import { allRules, familiesByName, rulesByFamily, type DeployedFamily } from '../remediations/registry.js';
import { notificationFilterPolicies, type FilterPolicy } from './notification-filters.js';
import { MEMBER_ROLE_PATH, memberRoleName, UNDO_ROLE_NAME } from '../engine/accounts.js';

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
 * applies plans (`remediate`), or, with approvals on, whose proposals a person
 * can approve (`propose`), and only when the setting it depends on is set.
 * Without a config, every permission a rule could use (the reference tables).
 */
function granted(rule: Rule, permission: Permission, config: Config | undefined, approvals: boolean): boolean {
  if (!config) return true;
  // One role per family serves every account: a rule that applies plans in any account (`accounts.<id>`) needs the grant.
  const modes = [modeFor(rule, config), ...Object.keys(config.accounts).map((account) => modeFor(rule, configForAccount(config, account)))];
  if (!modes.some((mode) => mode === 'remediate' || (approvals && mode === 'propose'))) return false;
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
export function statementsFor(rules: readonly Rule[], config?: Config, options: { readonly approvals?: boolean } = {}): IamStatement[] {
  const permissions: Permission[] = [];
  for (const rule of rules) {
    permissions.push(...rule.permissions.filter((permission) => granted(rule, permission, config, options.approvals === true)));
    for (const lookup of rule.lookups ?? []) permissions.push({ action: lookup.permission, resource: lookup.resource ?? '*' });
    for (const probe of rule.probes ?? []) permissions.push({ action: iamActionFor(probe.service, probe.operation), resource: probe.resource ?? '*' });
  }
  return [...grouped(permissions), ...protectOwnRoles(rules)];
}

/** Permissions as statements: grouped by resource and condition, sorted for a stable template. */
function grouped(permissions: readonly Permission[]): IamStatement[] {
  const groups = new Map<string, { resource: string; condition?: Permission['condition']; actions: Set<string> }>();
  for (const { action, resource, condition } of permissions) {
    const key = `${resource}\u0000${condition ? JSON.stringify(condition) : ''}`;
    const group = groups.get(key) ?? { resource, ...(condition ? { condition } : {}), actions: new Set<string>() };
    group.actions.add(action);
    groups.set(key, group);
  }
  return [...groups.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([, { resource, condition, actions }]) => ({
      Effect: 'Allow' as const,
      Action: [...actions].sort(),
      Resource: resourceValue(resource),
      ...(condition ? { Condition: conditionValue(condition) } : {}),
    }));
}

/** An applied write's IAM action → the IAM actions of the operations that may undo it (the inverse table, in IAM's terms). */
const UNDO_ACTIONS: ReadonlyMap<string, readonly string[]> = (() => {
  const actions = new Map<string, string[]>();
  const iamAction = (key: string) => {
    const [service = '', operation = ''] = key.split(':');
    return iamActionFor(service as Service, operation);
  };
  for (const [applied, inverses] of Object.entries(UNDO_INVERSES)) {
    const list = actions.get(iamAction(applied)) ?? [];
    for (const { undo } of inverses) if (!list.includes(iamAction(undo))) list.push(iamAction(undo));
    actions.set(iamAction(applied), list);
  }
  return actions;
})();

/**
 * Undo operations the undo role never holds. Giving an instance back its
 * profile needs `iam:PassRole`, and a role that may pass roles to EC2 and
 * associate profiles with any instance can hand any instance an admin role:
 * that undo is run by hand, with your own credentials (the alert's command).
 */
const NOT_IN_UNDO_ROLE: ReadonlySet<string> = new Set(['ec2:AssociateIamInstanceProfile']);

/**
 * What `remediate undo` needs to reverse anything these rules may apply for
 * `config` (the writes {@link statementsFor} grants): for each granted write,
 * the operations of the inverse table that may undo it, on the same resource,
 * under the same condition (but {@link NOT_IN_UNDO_ROLE}), and a Deny of
 * those role actions on the bot's roles and on the undo role itself. Nothing
 * when every rule proposes.
 */
export function undoStatementsFor(rules: readonly Rule[], config?: Config, options: { readonly approvals?: boolean } = {}): IamStatement[] {
  const permissions: Permission[] = [];
  for (const rule of rules) {
    for (const permission of rule.permissions) {
      if (!granted(rule, permission, config, options.approvals === true)) continue;
      for (const action of UNDO_ACTIONS.get(permission.action) ?? []) {
        if (!NOT_IN_UNDO_ROLE.has(action)) permissions.push({ action, resource: permission.resource, ...(permission.condition ? { condition: permission.condition } : {}) });
      }
    }
  }
  const allows = grouped(permissions);
  // Like the functions' roles: whatever it may do to roles, never to the bot's own, nor to itself.
  const roleActions = [...new Set(permissions.filter((p) => p.action.startsWith('iam:') && p.resource.includes(':role/')).map((p) => p.action))].sort();
  if (roleActions.length === 0) return allows;
  return [
    ...allows,
    {
      Effect: 'Deny',
      Action: roleActions,
      Resource: [{ 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:role/remediation-bot/*' }, { 'Fn::Sub': `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:role/${UNDO_ROLE_NAME}` }],
    },
  ];
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

/** Whether a rule listens to a read-only management event (STS AssumeRole): its EventBridge rule must then be in state ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS. */
export function receivesReadOnlyEvents(rules: readonly Rule[]): boolean {
  return rules.some((rule) => rule.triggers.some((trigger) => trigger.readOnly));
}

export function familyPattern(family: DeployedFamily): EventPatternDocument {
  return patternForRules(rulesByFamily[family]);
}

/**
 * camelCase keys: serverless variable addresses are dotted paths, and function
 * keys become logical ids (and the `.serverless/<key>.zip` names). The deployed
 * names (functions, roles, EventBridge rules, alarms) use the family name
 * itself (`security-groups`), through each function's `name`.
 */
export function familyKey(family: string): string {
  return family.replace(/-([a-z])/g, (_, letter: string) => letter.toUpperCase());
}

export function logicalId(family: string, suffix: string): string {
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
  /** `true`: every verified alert also becomes a Security Hub finding (a subscriber function of the alert topic). */
  readonly securityHub?: string | boolean;
  /** Days the history table keeps a decision after its event (`HISTORY_RETENTION_DAYS` of every remediation function). */
  readonly historyRetentionDays?: string | number;
  /** `true`: proposals are stored and can be approved (`remediate approve`); the functions then hold the write permissions of their rules in `propose`. */
  readonly approvals?: string | boolean;
  /** Days a stored proposal stays open (1-30, `PROPOSAL_DAYS`). */
  readonly proposalDays?: string | number;
  /** Secrets Manager secret ARN, or SSM SecureString name or ARN, holding the Slack app's signing secret: the Approve and Dismiss buttons (needs `approvals=true`). */
  readonly slackSigningSecret?: string;
  /** An Organization hub: the organisation's id (`o-…`); its accounts may send events to the hub's bus, and the functions act in them. */
  readonly organizationId?: string;
  /** An Organization hub without Organizations: the member accounts' ids, comma-separated. */
  readonly memberAccounts?: string;
}

/** Every parameter of `serverless.yml`'s `params.default`, as the command line (strings) or the defaults give it. */
export interface PackageParams extends DeployParams {
  /** The config file embedded into the functions, relative to the project directory. */
  readonly configFile?: string;
  /** CloudWatch Logs retention of every function's log group, in days. */
  readonly logRetentionDays?: string | number;
  /** `true`: the stack creates a trail. */
  readonly createTrail?: string | boolean;
}

/** What the parameter checks need besides the values. */
export interface ParamContext {
  /** The names given with `--param` on the command line. */
  readonly given?: readonly string[];
  /** The names `serverless.yml` declares (`params.default`): any other given name is refused. */
  readonly known?: readonly string[];
  /** The directory `configFile` is relative to (the project's). */
  readonly projectDir?: string;
}

/** A deploy parameter the bot refuses: one line per problem, each starting `param <name>: `. */
export class DeployParamError extends ConfigFault {
  override readonly name = 'DeployParamError';
}

/** Reserved concurrency of each remediation function when the parameter is not given. */
const DEFAULT_REMEDIATION_CONCURRENCY = 5;

/** Ten years: a longer history is an archive, not a table to Query. */
const MAX_HISTORY_RETENTION_DAYS = 3650;

/** The config file when `configFile` is not given. */
export const DEFAULT_CONFIG_FILE = 'remediation.config.yml';

/** The retention periods CloudWatch Logs accepts (PutRetentionPolicy, `retentionInDays`). */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653] as const;

const PARTITION = 'aws(?:-[a-z]+)*';
const REGION = '[a-z]{2}(?:-[a-z]+)+-\\d+';
const ACCOUNT = '\\d{12}';
/** A complete secret ARN ends in the hyphen and 6 random characters Secrets Manager appends to the name. */
const SECRET_ARN = new RegExp(`^arn:${PARTITION}:secretsmanager:${REGION}:${ACCOUNT}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$`);
const SECRET_ARN_SHAPE = new RegExp(`^arn:${PARTITION}:secretsmanager:${REGION}:${ACCOUNT}:secret:([A-Za-z0-9/_+=.@-]+)$`);
const SSM_NAME = /^\/[A-Za-z0-9_.\-/]{1,2047}$/;
const SSM_ARN = new RegExp(`^arn:${PARTITION}:ssm:${REGION}:${ACCOUNT}:parameter/[A-Za-z0-9_.\\-/]{1,2047}$`);
const KMS_KEY_ARN = new RegExp(`^arn:${PARTITION}:kms:(${REGION}):${ACCOUNT}:key/[A-Za-z0-9-]{1,128}$`);
/** An address SNS accepts as an email endpoint: one address, no display name. */
const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+$/;
/** Tag keys: letters, digits and spaces in any script, and `_ . : / = + - @`. */
const ORGANIZATION_ID = /^o-[a-z0-9]{10,32}$/;
const TAG_KEY = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]{1,128}$/u;

/** Levenshtein distance, for the "did you mean" of a near miss. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length] ?? 0;
}

/** The candidate closest to `word`, when close enough to be a typo of it. */
function nearMiss(word: string, candidates: readonly string[]): string | undefined {
  let best: { candidate: string; distance: number } | undefined;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (!best || distance < best.distance) best = { candidate, distance };
  }
  if (best && best.distance <= Math.max(2, Math.floor(word.length / 4))) return best.candidate;
  // A name cut short (`kmsKey` for `kmsKeyArn`): the one candidate it begins.
  const extended = candidates.filter((candidate) => word.length >= 3 && candidate.toLowerCase().startsWith(word.toLowerCase()));
  return extended.length === 1 ? extended[0] : undefined;
}

const text = (value: string | number | boolean | undefined): string => (value === undefined ? '' : String(value).trim());

function slackWebhookSecretProblem(value: string, region: string): string | undefined {
  if (value === '' || SECRET_ARN.test(value) || SSM_NAME.test(value) || SSM_ARN.test(value)) return undefined;
  const describe = (name: string) => `give the secret's ARN: aws secretsmanager describe-secret --secret-id ${name} --query ARN --output text --region ${region}`;
  const incomplete = SECRET_ARN_SHAPE.exec(value)?.[1];
  if (incomplete !== undefined) return `${JSON.stringify(value)} lacks the 6 characters Secrets Manager appends to the name: ${describe(incomplete)}`;
  if (value.startsWith('arn:')) return `${JSON.stringify(value)} is neither a Secrets Manager secret ARN nor an SSM parameter ARN`;
  if (value.startsWith('/')) return `${JSON.stringify(value)} is not an SSM parameter name (letters, digits and _ . - /)`;
  return `${JSON.stringify(value)} is a name, not an ARN (an SSM parameter name starts with /): ${describe(value)}`;
}

function kmsKeyArnProblem(value: string, region: string): string | undefined {
  if (value === '') return undefined;
  if (/(^|:)alias\/aws\//.test(value)) {
    return `${JSON.stringify(value)} is an AWS managed key, whose key policy nobody can change: it cannot let CloudWatch (alarms publish to the topic) or EventBridge (dead letters go to the queue) use the key, so those messages would be lost; leave kmsKeyArn empty (the stack creates a key) or give a customer managed key's ARN`;
  }
  if (/(^|:)alias\//.test(value)) return `${JSON.stringify(value)} is an alias: give the key's ARN: aws kms describe-key --key-id ${value} --query KeyMetadata.Arn --output text --region ${region}`;
  const keyRegion = KMS_KEY_ARN.exec(value)?.[1];
  if (keyRegion === undefined) return `${JSON.stringify(value)} is not a KMS key ARN (arn:<partition>:kms:<region>:<account>:key/<key-id>)`;
  if (keyRegion !== region) return `${JSON.stringify(value)} is a key in ${keyRegion}: the topic and queues of a stack in ${region} need a key of their own Region`;
  return undefined;
}

function modesProblems(value: string): string[] {
  const ids = allRules.map((rule) => rule.id);
  const seen = new Set<string>();
  const problems: string[] = [];
  for (const pair of value.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [id, mode, ...rest] = pair.split('=').map((part) => part.trim());
    if (!id || !mode || rest.length > 0 || !(MODES as readonly string[]).includes(mode)) {
      problems.push(`${JSON.stringify(pair)} must be <rule-id>=<${MODES.join('|')}>`);
    } else if (!ids.includes(id)) {
      const near = nearMiss(id, ids);
      problems.push(`no rule ${JSON.stringify(id)} (in ${JSON.stringify(pair)}): ${near ? `did you mean ${near}?` : '`npx remediate rules` lists the rule ids'}`);
    } else if (seen.has(id)) {
      problems.push(`${id} is given twice`);
    }
    if (id) seen.add(id);
  }
  return problems;
}

function exemptionTagKeyProblem(value: string): string | undefined {
  if (value === '') return undefined;
  if (/^aws:/i.test(value)) return `${JSON.stringify(value)} starts with "aws:", which AWS reserves for its own tags`;
  if (!TAG_KEY.test(value)) return `${JSON.stringify(value)} is not a tag key: 1 to 128 letters, digits, spaces and _ . : / = + - @`;
  return undefined;
}

function configFileProblem(value: string, projectDir: string): string | undefined {
  const path = resolvePath(projectDir, value);
  if (value === '' || !existsSync(path)) return `${JSON.stringify(value)}: no such file (relative to the project directory: ${path})`;
  if (!statSync(path).isFile()) return `${JSON.stringify(value)} is not a file (${path})`;
  return undefined;
}

/**
 * Every problem with the deploy parameters, one line each (`param <name>: …`),
 * in the order `serverless.yml` lists them; none: the parameters are good.
 * Unknown names and `configFile` are checked only with their context.
 */
export function deployParamProblems(params: PackageParams, context: ParamContext = {}): string[] {
  const problems: [string, string | undefined][] = [];
  if (context.given && context.known) {
    const known = context.known;
    for (const name of new Set(context.given)) {
      if (known.includes(name)) continue;
      const near = nearMiss(name, known);
      problems.push([name, `unknown parameter: ${near ? `did you mean ${near}?` : `the parameters are ${known.join(', ')}`}`]);
    }
  }
  const email = text(params.alertEmail);
  if (email !== '' && !EMAIL.test(email)) problems.push(['alertEmail', `${JSON.stringify(email)} is not one email address (empty: no email subscription)`]);
  problems.push(['slackWebhookSecret', slackWebhookSecretProblem(text(params.slackWebhookSecret), params.region)]);
  problems.push(['slackSigningSecret', slackWebhookSecretProblem(text(params.slackSigningSecret), params.region)]);
  if (text(params.slackSigningSecret) !== '' && text(params.approvals) !== 'true') problems.push(['slackSigningSecret', 'the Approve and Dismiss buttons need approvals=true as well']);
  problems.push(['kmsKeyArn', kmsKeyArnProblem(text(params.kmsKeyArn), params.region)]);
  for (const problem of modesProblems(text(params.modes))) problems.push(['modes', problem]);
  problems.push(['exemptionTagKey', exemptionTagKeyProblem(text(params.exemptionTagKey))]);
  if (params.configFile !== undefined && context.projectDir !== undefined) problems.push(['configFile', configFileProblem(text(params.configFile), context.projectDir)]);
  const retention = text(params.logRetentionDays);
  if (params.logRetentionDays !== undefined && !(LOG_RETENTION_DAYS as readonly number[]).some((days) => String(days) === retention)) {
    problems.push(['logRetentionDays', `expected one of CloudWatch Logs' retention periods (${LOG_RETENTION_DAYS.join(', ')}), got ${JSON.stringify(retention)}`]);
  }
  for (const name of ['createTrail', 'securityHub', 'approvals'] as const) {
    const flag = text(params[name]);
    if (params[name] !== undefined && flag !== 'true' && flag !== 'false') problems.push([name, `expected true or false, got ${JSON.stringify(flag)}`]);
  }
  const historyDays = text(params.historyRetentionDays);
  if (historyDays !== '' && !(/^\d+$/.test(historyDays) && Number(historyDays) >= 1 && Number(historyDays) <= MAX_HISTORY_RETENTION_DAYS)) {
    problems.push(['historyRetentionDays', `expected a whole number of days from 1 to ${MAX_HISTORY_RETENTION_DAYS}, got ${JSON.stringify(params.historyRetentionDays)}`]);
  }
  const proposalDays = text(params.proposalDays);
  if (proposalDays !== '' && !(/^\d+$/.test(proposalDays) && Number(proposalDays) >= 1 && Number(proposalDays) <= 30)) {
    problems.push(['proposalDays', `expected a whole number of days from 1 to 30, got ${JSON.stringify(params.proposalDays)}`]);
  }
  const organization = text(params.organizationId);
  if (organization !== '' && !ORGANIZATION_ID.test(organization)) problems.push(['organizationId', `expected an AWS Organizations id such as o-a1b2c3d4e5, got ${JSON.stringify(organization)}`]);
  const members = memberAccountsOf(params);
  const badMember = members.find((account) => !/^\d{12}$/.test(account));
  if (badMember !== undefined) problems.push(['memberAccounts', `expected 12-digit account ids, comma-separated, got ${JSON.stringify(badMember)}`]);
  const concurrency = text(params.remediationConcurrency);
  if (concurrency !== '' && !(/^\d+$/.test(concurrency) && Number(concurrency) >= 1 && Number(concurrency) <= 100)) {
    problems.push(['remediationConcurrency', `expected an integer from 1 to 100, got ${JSON.stringify(params.remediationConcurrency)}`]);
  }
  return problems.flatMap(([name, problem]) => (problem === undefined ? [] : [`param ${name}: ${problem}`]));
}

/** Throws `DeployParamError`, every problem on its own line, when a parameter is refused. */
export function checkDeployParams(params: PackageParams, context: ParamContext = {}): void {
  const problems = deployParamProblems(params, context);
  if (problems.length > 0) throw new DeployParamError(problems.join('\n'));
}

/** The reserved concurrency parameter (checked by `deployParamProblems`: an integer from 1 to 100). */
function remediationConcurrency(params: Pick<DeployParams, 'remediationConcurrency'>): number {
  const raw = text(params.remediationConcurrency);
  return raw === '' ? DEFAULT_REMEDIATION_CONCURRENCY : Number(raw);
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

/** The logical id the framework gives a function's first EventBridge rule: from the function's name (its `name`), not its key. */
function eventRuleLogicalId(params: Pick<DeployParams, 'service' | 'stage'>, family: string): string {
  const id = `${functionName(params, family)}-rule-1`.replace(/[^0-9A-Za-z]/g, '');
  return `${id.charAt(0).toUpperCase()}${id.slice(1)}EventBridgeRule`;
}

/** The name of a family's EventBridge rule, fixed so the key policy can name it. */
function eventRuleName(params: Pick<DeployParams, 'service' | 'stage'>, family: string): string {
  return functionName(params, family);
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
    approvals: config.approvals,
    rules: Object.fromEntries(Object.entries(config.rules).map(([id, rule]) => [id, { mode: rule.mode, ...(rule.settings as Record<string, unknown>) }])),
  });
}

/** A function's name, `<service>-<stage>-<family>`: also its log group, its alarms' names and the session name of its role. */
function functionName(params: Pick<DeployParams, 'service' | 'stage'>, family: string): string {
  return `${params.service}-${params.stage}-${family}`;
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
function functionAlarms(params: DeployParams, family: string, throttled = 'events may be delayed'): Record<string, unknown> {
  const name = functionName(params, family);
  const dimensions = [{ Name: 'FunctionName', Value: name }];
  return {
    [logicalId(family, 'ErrorsAlarm')]: alarm(`${name}-errors`, `Function ${name} failed: check its logs and the failure queue.`, 'AWS/Lambda', 'Errors', dimensions),
    [logicalId(family, 'ThrottlesAlarm')]: alarm(`${name}-throttles`, `Function ${name} was throttled: ${throttled}.`, 'AWS/Lambda', 'Throttles', dimensions),
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

/** The name of a function's role (IAM roles are global: the Region is in it). */
export function functionRoleName(params: Pick<DeployParams, 'service' | 'stage' | 'region'>, family: string): string {
  return `${params.service}-${params.stage}-${params.region}-${family}`.slice(0, 64);
}

/** The hub's event bus in a Region: the member template's rules forward to it. */
export function hubBusName(service: string, stage: string): string {
  return `${service}-${stage}-hub`;
}

function memberAccountsOf(params: Pick<DeployParams, 'memberAccounts'>): string[] {
  return text(params.memberAccounts)
    .split(',')
    .map((account) => account.trim())
    .filter((account) => account !== '');
}

/** Whether the stack is an Organization hub: events come from other accounts too (`organizationId` or `memberAccounts`). */
function isHub(params: Pick<DeployParams, 'organizationId' | 'memberAccounts'>): boolean {
  return text(params.organizationId) !== '' || memberAccountsOf(params).length > 0;
}

/**
 * The hub's event bus: the member accounts' forwarding rules (the member
 * template) put their events here, and only they may: the organisation's
 * principals (`aws:PrincipalOrgID`), or the listed accounts.
 */
function hubBus(params: DeployParams): Record<string, unknown> {
  const organization = text(params.organizationId);
  const members = memberAccountsOf(params);
  return {
    HubEventBus: { Type: 'AWS::Events::EventBus', Properties: { Name: hubBusName(params.service, params.stage) } },
    HubEventBusPolicy: {
      Type: 'AWS::Events::EventBusPolicy',
      Properties: {
        EventBusName: { Ref: 'HubEventBus' },
        StatementId: 'members-put-events',
        Statement: {
          Effect: 'Allow',
          Action: 'events:PutEvents',
          Resource: { 'Fn::GetAtt': ['HubEventBus', 'Arn'] },
          ...(organization !== ''
            ? { Principal: '*', Condition: { StringEquals: { 'aws:PrincipalOrgID': organization } } }
            : { Principal: { AWS: members.map((account) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:iam::${account}:root` })) } }),
        },
      },
    },
  };
}

/** A family's rule on the hub's bus: the same pattern as on the default bus, the same retry policy and dead-letter queue. */
function hubRule(params: DeployParams, family: DeployedFamily): Record<string, unknown> {
  const id = logicalId(family, 'HubRule');
  const functionArn = { 'Fn::GetAtt': [logicalId(family, 'LambdaFunction'), 'Arn'] };
  return {
    [id]: {
      Type: 'AWS::Events::Rule',
      Properties: {
        Name: `${functionName(params, family)}-hub`.slice(0, 64),
        EventBusName: { Ref: 'HubEventBus' },
        State: receivesReadOnlyEvents(rulesByFamily[family]) ? 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS' : 'ENABLED',
        EventPattern: familyPattern(family),
        Targets: [
          {
            Id: 'function',
            Arn: functionArn,
            RetryPolicy: { MaximumEventAgeInSeconds: 3600, MaximumRetryAttempts: 8 },
            DeadLetterConfig: { Arn: { 'Fn::GetAtt': ['EventsDeadLetterQueue', 'Arn'] } },
          },
        ],
      },
    },
    [`${id}Permission`]: {
      Type: 'AWS::Lambda::Permission',
      Properties: { FunctionName: functionArn, Action: 'lambda:InvokeFunction', Principal: 'events.amazonaws.com', SourceArn: { 'Fn::GetAtt': [id, 'Arn'] } },
    },
  };
}

/**
 * A hub's function may assume exactly its family's member role, in the
 * organisation's accounts (`aws:ResourceOrgID`) or in the listed ones: never
 * another role, never outside.
 */
function memberRoleStatement(params: DeployParams, family: string): IamStatement {
  const organization = text(params.organizationId);
  const role = (account: string) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:iam::${account}:role${MEMBER_ROLE_PATH}${memberRoleName(family)}` });
  return organization !== ''
    ? { Effect: 'Allow', Action: ['sts:AssumeRole'], Resource: role('*'), Condition: { StringEquals: { 'aws:ResourceOrgID': organization } } }
    : { Effect: 'Allow', Action: ['sts:AssumeRole'], Resource: memberAccountsOf(params).map(role) };
}

/** The role every function of the deployment gets: path `/remediation-bot/` is what the loop check recognises. */
export function functionRole(params: DeployParams, family: string, statements: readonly IamStatement[], runtime: readonly IamStatement[]) {
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      Path: '/remediation-bot/',
      RoleName: functionRoleName(params, family),
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
export function runtimeStatements(params: DeployParams, family: string): IamStatement[] {
  return [
    {
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      Resource: { 'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${functionName(params, family)}:*` },
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
 * family) and progress records (`engine/progress-store.ts`), and the
 * deployment's write-budget counters.
 */
function idempotencyStatement(params: DeployParams, family: string): IamStatement {
  // With approvals on, also its own family's stored proposals (`proposal#<family>#…`).
  const proposals = text(params.approvals) === 'true' ? [`proposal#${family}#*`] : [];
  return {
    Effect: 'Allow',
    Action: ['dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
    Resource: { 'Fn::GetAtt': ['IdempotencyTable', 'Arn'] },
    Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${functionName(params, family)}#*`, `undo#${family}#*`, `progress#${family}#*`, 'budget#*', ...proposals] } },
  };
}

/**
 * The history of every decision that alerted (`remediate history`,
 * docs/history.md): its own table, keyed by family and day so a time range is a
 * Query, never a Scan. On demand, TTL, the stack key, point-in-time recovery.
 */
function historyTable(params: DeployParams): Record<string, unknown> {
  return {
    HistoryTable: {
      Type: 'AWS::DynamoDB::Table',
      Properties: {
        TableName: `${params.service}-${params.stage}-history`,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: HISTORY_TABLE_SCHEMA.AttributeDefinitions,
        KeySchema: HISTORY_TABLE_SCHEMA.KeySchema,
        TimeToLiveSpecification: { AttributeName: HISTORY_TABLE_SCHEMA.ttlAttribute, Enabled: true },
        SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: kmsKeyOf(params) },
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      },
    },
  };
}

/** Each function only adds its own family's history items; it reads none. */
function historyStatement(family: string): IamStatement {
  return {
    Effect: 'Allow',
    Action: ['dynamodb:PutItem'],
    Resource: { 'Fn::GetAtt': ['HistoryTable', 'Arn'] },
    Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${family}#*`] } },
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
 * (`RemediationUnverified`), a rule that failed (`RuleFailed`), a spent
 * write budget (`WriteBudgetExhausted`), and a decision missing from the
 * history (`HistoryWriteFailed`), summed by metric math.
 */
function blindSpotAlarm(params: DeployParams, family: string): Record<string, unknown> {
  const name = functionName(params, family);
  const metrics = ['Skipped', 'RemediationUnverified', 'RuleFailed', 'WriteBudgetExhausted', 'HistoryWriteFailed'];
  return {
    [logicalId(family, 'BlindSpotAlarm')]: {
      Type: 'AWS::CloudWatch::Alarm',
      Properties: {
        AlarmName: `${name}-blind-spots`,
        AlarmDescription: `Function ${name} could not inspect an event, could not verify a fix, had a rule fail, spent the write budget or could not record a decision in the history: read its alerts and logs.`,
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
    // Exactly the secret: the parameter check requires the full ARN, with Secrets Manager's 6-character suffix.
    return [{ Effect: 'Allow', Action: ['secretsmanager:GetSecretValue'], Resource: reference }, decrypt('secretsmanager', 'SecretARN', reference)];
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
  return {
    functions: {
      [key]: {
        name: functionName(params, key),
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
      // Reserved concurrency 2 throttles a burst on purpose, and Lambda retries a throttled asynchronous event for up to 6 hours: a throttle means Slack lags, not that an alert is lost.
      ...functionAlarms(params, key, 'Slack alerts wait in Lambda\'s asynchronous queue (retried for up to 6 hours); a long burst means Slack lags behind the topic'),
    },
  };
}

/**
 * The Slack approval function (`approvals=true` and `slackSigningSecret`),
 * behind a function URL that takes no AWS signature (Slack cannot make one):
 * it authenticates each request itself (`notify/slack-approvals.ts`). Its role
 * may only read its signing secret, record the signatures it accepted
 * (`slack#…` keys of the stack's table, against replays), and invoke the
 * family functions, which do the rest.
 */
function slackApprovalValues(params: DeployParams, families: readonly string[]): { functions: Record<string, unknown>; resources: Record<string, unknown>; outputs: Record<string, unknown> } {
  const reference = text(params.slackSigningSecret);
  if (reference === '' || text(params.approvals) !== 'true') return { functions: {}, resources: {}, outputs: {} };
  const key = 'slack-approvals';
  const familyFunctions = Object.fromEntries(families.map((family) => [family, functionName(params, family)]));
  const invoke: IamStatement = {
    Effect: 'Allow',
    Action: ['lambda:InvokeFunction'],
    Resource: families.map((family) => ({ 'Fn::Sub': `arn:\${AWS::Partition}:lambda:\${AWS::Region}:\${AWS::AccountId}:function:${functionName(params, family)}` })),
  };
  const replays: IamStatement = {
    Effect: 'Allow',
    Action: ['dynamodb:PutItem'],
    Resource: { 'Fn::GetAtt': ['IdempotencyTable', 'Arn'] },
    Condition: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['slack#*'] } },
  };
  return {
    functions: {
      slackApprovals: {
        name: functionName(params, key),
        handler: 'handlers/slack-approvals.handler',
        description: 'Receives Approve and Dismiss clicks from Slack, checks their signature and hands them to the family functions',
        role: logicalId(key, 'Role'),
        timeout: 10,
        memorySize: 256,
        url: true,
        environment: { SLACK_SIGNING_SECRET: reference, IDEMPOTENCY_TABLE: { Ref: 'IdempotencyTable' }, FAMILY_FUNCTIONS: JSON.stringify(familyFunctions) },
      },
    },
    resources: {
      [logicalId(key, 'Role')]: functionRole(params, key, [...webhookSecretStatements(reference), invoke], [...runtimeStatements(params, key), replays]),
    },
    outputs: {
      SlackApprovalsUrl: { Description: 'The Request URL of the Slack app (Interactivity & Shortcuts)', Value: { 'Fn::GetAtt': ['SlackApprovalsLambdaFunctionUrl', 'FunctionUrl'] } },
    },
  };
}

/**
 * The Security Hub subscriber (`securityHub=true`): a second function on the
 * alert topic, so that a Security Hub outage never delays or fails a
 * remediation. It may import findings only as the account's default custom
 * integration, and update their workflow only through the account's hub.
 */
function securityHubValues(params: DeployParams): { functions: Record<string, unknown>; resources: Record<string, unknown> } {
  if (text(params.securityHub) !== 'true') return { functions: {}, resources: {} };
  const key = 'security-hub';
  const securityHub = (resource: string): CfnValue => ({ 'Fn::Sub': `arn:\${AWS::Partition}:securityhub:\${AWS::Region}:\${AWS::AccountId}:${resource}` });
  const statements: IamStatement[] = [
    { Effect: 'Allow', Action: ['securityhub:BatchImportFindings'], Resource: securityHub('product/${AWS::AccountId}/default') },
    { Effect: 'Allow', Action: ['securityhub:BatchUpdateFindings'], Resource: securityHub('hub/default') },
  ];
  return {
    functions: {
      [familyKey(key)]: {
        name: functionName(params, key),
        handler: 'handlers/securityhub.handler',
        description: 'Imports remediation alerts from the alert topic into Security Hub as findings',
        role: logicalId(key, 'Role'),
        timeout: 60,
        memorySize: 256,
        // Security Hub's BatchImportFindings quota is per account and Region: a burst waits in Lambda's async queue.
        reservedConcurrency: 2,
        maximumRetryAttempts: 2,
        environment: { ...alertSigningEnvironment() },
        destinations: { onFailure: { type: 'sqs', arn: { 'Fn::GetAtt': ['FailureQueue', 'Arn'] } } },
        events: [{ sns: { arn: { Ref: 'AlertTopic' }, topicName: `${params.service}-${params.stage}-alerts` } }],
      },
    },
    resources: {
      [logicalId(key, 'Role')]: functionRole(params, key, statements, [...runtimeStatements(params, key), alertVerifyingStatement()]),
      ...functionAlarms(params, key, "findings wait in Lambda's asynchronous queue (retried for up to 6 hours); a long burst means Security Hub lags behind the topic"),
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

/**
 * What `deploy/values.cjs` gives osls: every parameter checked first (unknown
 * names, a missing config file and bad values are refused, one line each,
 * before anything is derived), then the stack values of the config file.
 */
export function deploymentValues(params: PackageParams, context: ParamContext & { readonly projectDir: string }): StackValues {
  const withFile = { ...params, configFile: params.configFile ?? DEFAULT_CONFIG_FILE };
  checkDeployParams(withFile, context);
  return stackValues(resolvePath(context.projectDir, text(withFile.configFile)), params);
}

/** Functions and resources of every rule family deployed in `params.region`. */
export function stackValues(configPath: string, params: DeployParams): StackValues {
  checkDeployParams(params);
  const config = loadDeployConfig(configPath, params);
  const families = (Object.keys(rulesByFamily) as DeployedFamily[]).filter((family) => familyDeploysIn(family, params.region));
  const roles = families.map((family) => logicalId(family, 'Role'));
  const concurrency = remediationConcurrency(params);
  const historyRetentionDays = text(params.historyRetentionDays) || String(HISTORY_RETENTION_DAYS);
  const approvals = text(params.approvals) === 'true';
  const approvalEnvironment = approvals ? { APPROVALS: 'true', ...(text(params.proposalDays) ? { PROPOSAL_DAYS: text(params.proposalDays) } : {}) } : {};
  // The bot is its exact roles, and the session names Lambda gives them (the function names): never a pattern.
  const identity = {
    BOT_PRINCIPALS: { 'Fn::Join': [',', roles.map((id) => ({ 'Fn::GetAtt': [id, 'Arn'] }))] },
    BOT_SESSION_NAMES: families.map((family) => functionName(params, family)).join(','),
    BOT_ACCOUNT: { Ref: 'AWS::AccountId' },
    // An Organization hub also acts in the member accounts, as their member roles (engine/accounts.ts).
    ...(isHub(params)
      ? {
          ...(text(params.organizationId) !== '' ? { BOT_ORGANIZATION_ID: text(params.organizationId) } : {}),
          ...(memberAccountsOf(params).length > 0 ? { BOT_MEMBER_ACCOUNTS: memberAccountsOf(params).join(',') } : {}),
          BOT_MEMBER_ROLE_NAMES: families.map((family) => memberRoleName(family)).join(','),
        }
      : {}),
  };
  const functions: Record<string, unknown> = {};
  const extensions: Record<string, unknown> = {};
  const resources: Record<string, unknown> = {
    ...keyResources(params, families.map((family) => eventRuleName(params, family))),
    ...alertTopicPolicy(roles),
    ...idempotencyTable(params),
    ...historyTable(params),
    ...queueDepthAlarm(params, 'EventsDeadLetterQueue', 'EventBridge could not deliver an event to a function'),
    ...queueDepthAlarm(params, 'FailureQueue', 'A function failed on an event after all retries'),
  };
  for (const family of families) {
    const key = familyKey(family);
    const rules = rulesByFamily[family];
    const publish: IamStatement = { Effect: 'Allow', Action: ['sns:Publish'], Resource: { Ref: 'AlertTopic' } };
    functions[key] = {
      name: functionName(params, family),
      handler: `handlers/${family}.handler`,
      environment: { IDEMPOTENCY_TABLE: { Ref: 'IdempotencyTable' }, HISTORY_TABLE: { Ref: 'HistoryTable' }, HISTORY_RETENTION_DAYS: historyRetentionDays, RESERVED_CONCURRENCY: String(concurrency), ...approvalEnvironment, ...identity, ...alertSigningEnvironment() },
      description: `Remediation rules ${rules.map((rule) => rule.id).join(', ')}`.slice(0, 256),
      role: logicalId(family, 'Role'),
      reservedConcurrency: concurrency,
      destinations: { onFailure: { type: 'sqs', arn: { 'Fn::GetAtt': ['FailureQueue', 'Arn'] } } },
      events: [
        {
          eventBridge: {
            name: eventRuleName(params, family),
            pattern: familyPattern(family),
            retryPolicy: { maximumEventAge: 3600, maximumRetryAttempts: 8 },
            deadLetterQueueArn: { 'Fn::GetAtt': ['EventsDeadLetterQueue', 'Arn'] },
          },
        },
      ],
    };
    resources[logicalId(family, 'Role')] = functionRole(params, family, statementsFor(rules, config, { approvals }), [
      ...runtimeStatements(params, family),
      publish,
      alertSigningStatement(),
      idempotencyStatement(params, family),
      historyStatement(family),
      ...(isHub(params) ? [memberRoleStatement(params, family)] : []),
    ]);
    if (isHub(params)) Object.assign(resources, hubRule(params, family));
    Object.assign(resources, functionAlarms(params, family), blindSpotAlarm(params, family));
    extensions[logicalId(family, 'LogGroup')] = { Properties: { KmsKeyId: kmsKeyOf(params) } };
    // A read-only management event (STS AssumeRole) reaches only a rule in this state; the rule's pattern narrows it to what the rules need.
    if (receivesReadOnlyEvents(rules)) {
      extensions[eventRuleLogicalId(params, family)] = { Properties: { State: 'ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS' } };
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
  const securityHub = securityHubValues(params);
  const slackApprovals = slackApprovalValues(params, families);
  Object.assign(functions, notifier.functions, securityHub.functions, slackApprovals.functions);
  Object.assign(resources, notifier.resources, securityHub.resources, slackApprovals.resources, emailSubscription(params, config));
  if (Object.keys(slackApprovals.functions).length > 0) extensions[logicalId('slack-approvals', 'LogGroup')] = { Properties: { KmsKeyId: kmsKeyOf(params) } };
  if (Object.keys(notifier.functions).length > 0) extensions[logicalId('notifier', 'LogGroup')] = { Properties: { KmsKeyId: kmsKeyOf(params) } };
  if (Object.keys(securityHub.functions).length > 0) extensions[logicalId('security-hub', 'LogGroup')] = { Properties: { KmsKeyId: kmsKeyOf(params) } };
  if (isHub(params)) Object.assign(resources, hubBus(params));
  const outputs = {
    ...(isHub(params) ? { HubEventBusArn: { Description: 'The bus the member template forwards to (remediate member-template)', Value: { 'Fn::GetAtt': ['HubEventBus', 'Arn'] } } } : {}),
    BotPrincipals: { Description: 'The exact ARNs of the bot\'s roles: BOT_PRINCIPALS for `remediate replay`, to skip the bot\'s own calls', Value: identity.BOT_PRINCIPALS },
    BotSessionNames: { Description: 'The session names of the bot\'s roles: BOT_SESSION_NAMES for `remediate replay`', Value: identity.BOT_SESSION_NAMES },
    HistoryTableName: { Description: 'The table `remediate history --table` reads', Value: { Ref: 'HistoryTable' } },
    ...slackApprovals.outputs,
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
