/**
 * One config file (`remediation.config.yml`) drives both the Lambdas and the CLI.
 * It is validated strictly: a bad key or value fails fast, naming the key and
 * the allowed values.
 */
import { deepFreeze } from './frozen.js';
import { SLACK_USER_ID } from './approval.js';
import { ConfigFault } from './errors.js';
import * as z from 'zod/mini';
import { ACCESS_PORTAL_URL, PERMISSION_SET_NAME } from './accounts.js';
import { formatIssues } from './issues.js';
import { MODES, SEVERITIES, type Mode, type Rule } from './types.js';

const ModeSchema = z.enum(MODES);
const SeveritySchema = z.enum(SEVERITIES);

const AccountIdSchema = z.string().check(z.regex(/^\d{12}$/, 'an AWS account id is 12 digits'));
const PermissionSetSchema = z.string().check(z.regex(PERMISSION_SET_NAME, 'a permission set name such as SecurityAudit'));

const SlackUserSchema = z.string().check(z.regex(SLACK_USER_ID, 'a Slack user id such as U024BE7LH'));

const API_SHARE = 'a share of each rate limit over 0 and at most 1, such as 0.5 for half';

const GlobalConfigSchema = z.strictObject({
  /** Mode of every rule that the `rules` section does not set. */
  defaultMode: z._default(ModeSchema, 'propose'),
  /** A resource carrying this tag is exempt; the tag's value is the reason. */
  exemptionTagKey: z._default(z.string().check(z.minLength(1), z.maxLength(128)), 'remediation:exempt'),
  /** Principals (ARN globs, `*` and `?`) whose calls are never acted on, such as break-glass roles. */
  ignorePrincipals: z._default(z.array(z.string().check(z.minLength(1))), []),
  /** Accounts trusted for sharing and cross-account trust. */
  trustedAccounts: z._default(z.array(AccountIdSchema), []),
  /** Past this many write calls in one invocation the bot proposes instead of applying. */
  maxWritesPerInvocation: z._default(z.number().check(z.int(), z.minimum(0), z.maximum(1000)), 10),
  /** Past this many write calls in a time window, across every function and event of the deployment, the bot proposes instead of applying. */
  writeBudget: z._default(
    z.strictObject({
      maxWrites: z._default(z.number().check(z.int(), z.minimum(0), z.maximum(100_000)), 50),
      windowMinutes: z._default(z.number().check(z.int(), z.minimum(1), z.maximum(1440)), 60),
      /** In an Organization hub, where each member account has `maxWrites` of its own: all member accounts together, per window (default ten times `maxWrites`). */
      allMembersMaxWrites: z.optional(z.number().check(z.int(), z.minimum(0), z.maximum(1_000_000))),
    }),
    { maxWrites: 50, windowMinutes: 60 },
  ),
  /** The share (over 0, at most 1) of each AWS API rate limit that all instances of a function together may use: the rest stays for the account's other workloads (`engine/pacing.ts`). */
  apiShare: z._default(z.number().check(z.gt(0, API_SHARE), z.lte(1, API_SHARE)), 0.5),
  /** `false`: the exemption tag exempts nothing (exemptions then live only in `exemptions` below). */
  exemptionTags: z._default(z.boolean(), true),
  /** Exemptions written down in the config: visible in review, each with a reason and an end. */
  exemptions: z._default(
    z.array(
      z.strictObject({
        /** The resource as the alert names it: an id (`sg-0123…`), a name (`role app`) or an ARN. */
        resource: z.string().check(z.minLength(1), z.maxLength(2048)),
        /** The rules it applies to; all when absent. */
        rules: z.optional(z.array(z.string().check(z.minLength(1)))),
        reason: z.string().check(z.minLength(1), z.maxLength(500)),
        /** The day the exemption ends (ISO 8601 date); a decision after it is no longer exempt. */
        expires: z.string().check(z.regex(/^\d{4}-\d{2}-\d{2}$/, 'an ISO 8601 date, e.g. 2027-03-01')),
        approvedBy: z.optional(z.string().check(z.minLength(1), z.maxLength(200))),
        /** The accounts it applies in (an Organization hub); all when absent. */
        accounts: z.optional(z.array(AccountIdSchema)),
      }),
    ),
    [],
  ),
  notifications: z._default(
    z.strictObject({
      slackMinSeverity: z._default(SeveritySchema, 'low'),
      emailMinSeverity: z._default(SeveritySchema, 'low'),
    }),
    { slackMinSeverity: 'low', emailMinSeverity: 'low' },
  ),
  /** Who may press Approve or Dismiss on a proposal in Slack (deploy parameters approvals and slackSigningSecret). */
  approvals: z._default(
    z.strictObject({
      /** Slack user ids (`U…` or `W…`, from the user's profile, "Copy member ID"). Empty: nobody in Slack; `remediate approve` still works. */
      slackUsers: z._default(z.array(SlackUserSchema), []),
      /** Narrower lists for a rule's proposals: only they may approve that rule's (instead of slackUsers). */
      rules: z._default(z.record(z.string(), z.array(SlackUserSchema)), {}),
      /** Narrower lists for proposals of a severity (a rule's own list comes first). */
      severities: z._default(z.partialRecord(SeveritySchema, z.array(SlackUserSchema)), {}),
    }),
    { slackUsers: [], rules: {}, severities: {} },
  ),
  /**
   * Per account (an Organization hub's members, or the hub's own): a name for
   * alerts, a mode for every rule or per rule, and more trusted accounts.
   * Keyed by the 12-digit account id.
   */
  accounts: z._default(
    z.record(
      AccountIdSchema,
      z.strictObject({
        name: z.optional(z.string().check(z.minLength(1), z.maxLength(64))),
        defaultMode: z.optional(ModeSchema),
        modes: z._default(z.record(z.string(), ModeSchema), {}),
        trustedAccounts: z._default(z.array(AccountIdSchema), []),
        /** The permission set the console links open this account with (`consoleSignIn`); the file's when absent. */
        consoleRole: z.optional(PermissionSetSchema),
      }),
    ),
    {},
  ),
  /**
   * Console links through the IAM Identity Center access portal, so that a
   * link in an alert opens the event's account (any member account) signed in
   * with this permission set, rather than whatever account the browser is in.
   */
  consoleSignIn: z.optional(
    z.strictObject({
      portalUrl: z.string().check(z.regex(ACCESS_PORTAL_URL, 'the access portal URL, such as https://d-1234567890.awsapps.com/start')),
      roleName: PermissionSetSchema,
    }),
  ),
  rules: z._default(z.record(z.string(), z.nullable(z.record(z.string(), z.unknown()))), {}),
});

export interface AccountConfig {
  readonly name?: string;
  readonly defaultMode?: Mode;
  readonly modes: Readonly<Record<string, Mode>>;
  readonly trustedAccounts: readonly string[];
  readonly consoleRole?: string;
}

/** Where console links sign in: the access portal and the permission set. */
export interface ConsoleSignIn {
  readonly portalUrl: string;
  readonly roleName: string;
}

export interface ApprovalsConfig {
  readonly slackUsers: readonly string[];
  readonly rules: Readonly<Record<string, readonly string[]>>;
  readonly severities: Partial<Readonly<Record<(typeof SEVERITIES)[number], readonly string[]>>>;
}

/** The Slack users who may approve or dismiss a proposal of `rule` at `severity`: the rule's list, else the severity's, else `slackUsers`. */
export function slackApprovers(approvals: ApprovalsConfig, rule: string, severity: (typeof SEVERITIES)[number]): readonly string[] {
  return approvals.rules[rule] ?? approvals.severities[severity] ?? approvals.slackUsers;
}

/** Everyone on some list: who the Slack function lets through to the family function, which applies the list of the proposal's rule. */
export function anySlackApprover(approvals: ApprovalsConfig): string[] {
  return [...new Set([...approvals.slackUsers, ...Object.values(approvals.rules).flat(), ...Object.values(approvals.severities).flat()])];
}

export interface ConfigExemption {
  readonly resource: string;
  readonly rules?: readonly string[];
  readonly reason: string;
  readonly expires: string;
  readonly approvedBy?: string;
  readonly accounts?: readonly string[];
}

export interface RuleConfig {
  readonly mode: Mode;
  readonly settings: unknown;
}

export interface Config {
  readonly defaultMode: Mode;
  readonly exemptionTagKey: string;
  readonly ignorePrincipals: readonly string[];
  readonly trustedAccounts: readonly string[];
  readonly maxWritesPerInvocation: number;
  readonly writeBudget: { readonly maxWrites: number; readonly windowMinutes: number; readonly allMembersMaxWrites?: number };
  readonly apiShare: number;
  readonly exemptionTags: boolean;
  readonly exemptions: readonly ConfigExemption[];
  /** Accepted but worth a look (a principal glob that ends in `*`, say); the CLI and packaging print them. */
  readonly warnings: readonly string[];
  readonly notifications: { readonly slackMinSeverity: (typeof SEVERITIES)[number]; readonly emailMinSeverity: (typeof SEVERITIES)[number] };
  readonly approvals: ApprovalsConfig;
  /** Per-account names, modes and trusted accounts (`configForAccount`). */
  readonly accounts: Readonly<Record<string, AccountConfig>>;
  readonly consoleSignIn?: ConsoleSignIn;
  /** Validated settings of every rule the config was parsed for, keyed by rule id. */
  readonly rules: Readonly<Record<string, RuleConfig>>;
}

export class ConfigError extends ConfigFault {
  override readonly name = 'ConfigError';
  constructor(
    readonly problems: readonly string[],
    options?: { cause?: unknown },
  ) {
    super(`invalid config: ${problems.join('; ')}`, options);
  }
}

interface ParseConfigOptions {
  /**
   * Reject rule ids that are not in `rules`. The CLI and packaging check
   * against the whole registry; a Lambda holds only its own family's rules.
   */
  readonly rejectUnknownRules?: boolean;
}

/** Validates a raw config object (already read from YAML or JSON) and fills defaults. Throws `ConfigError`. */
export function parseConfig(raw: unknown, rules: readonly Rule[], options: ParseConfigOptions = {}): Config {
  const result = GlobalConfigSchema.safeParse(raw ?? {}, { reportInput: true });
  if (!result.success) throw new ConfigError(formatIssues(result.error.issues), { cause: result.error });
  const global = result.data;
  const problems: string[] = [];
  const byId = new Map(rules.map((rule) => [rule.id, rule]));

  if (options.rejectUnknownRules) {
    for (const id of Object.keys(global.rules)) {
      if (!byId.has(id)) problems.push(`rules.${id}: unknown rule; allowed: ${[...byId.keys()].join(', ')}`);
    }
  }

  const warnings: string[] = [];
  for (const [index, glob] of global.ignorePrincipals.entries()) {
    const account = /^arn:[^:]*:[^:]*:[^:]*:([^:]*):/.exec(glob)?.[1];
    if (account === undefined || !/^\d{12}$/.test(account)) {
      problems.push(`ignorePrincipals.${index}: ${JSON.stringify(glob)} must be an ARN with its 12-digit account id: a wildcard account matches principals in any account`);
    } else if (glob.endsWith('*')) {
      warnings.push(`ignorePrincipals.${index}: ${JSON.stringify(glob)} ends with a wildcard, so anyone who can create a role or user with a matching name is ignored too`);
    }
  }
  for (const [index, exemption] of global.exemptions.entries()) {
    if (Number.isNaN(Date.parse(`${exemption.expires}T00:00:00Z`))) problems.push(`exemptions.${index}.expires: ${JSON.stringify(exemption.expires)} is not a date`);
    for (const id of exemption.rules ?? []) if (!byId.has(id) && options.rejectUnknownRules) problems.push(`exemptions.${index}.rules: unknown rule ${id}`);
  }
  for (const id of Object.keys(global.approvals.rules)) if (!byId.has(id) && options.rejectUnknownRules) problems.push(`approvals.rules.${id}: unknown rule`);
  for (const [account, settings] of Object.entries(global.accounts)) {
    for (const id of Object.keys(settings.modes)) if (!byId.has(id) && options.rejectUnknownRules) problems.push(`accounts.${account}.modes.${id}: unknown rule`);
    if (settings.consoleRole !== undefined && global.consoleSignIn === undefined) warnings.push(`accounts.${account}.consoleRole: has no effect without consoleSignIn (the access portal to sign in through)`);
  }

  const ruleConfigs: Record<string, RuleConfig> = {};
  for (const rule of rules) {
    const { mode: rawMode, ...rawSettings } = global.rules[rule.id] ?? {};
    let mode: Mode = rule.defaultMode ?? global.defaultMode;
    if (rawMode !== undefined) {
      const parsedMode = ModeSchema.safeParse(rawMode);
      if (parsedMode.success) mode = parsedMode.data;
      else problems.push(`rules.${rule.id}.mode: expected one of ${MODES.join(', ')}, got ${JSON.stringify(rawMode)}`);
    }
    let settings: unknown = rawSettings;
    if (rule.settings) {
      const parsed = rule.settings.safeParse(rawSettings);
      if (parsed.success) settings = parsed.data;
      else {
        const issues = (parsed.error as { issues?: Parameters<typeof formatIssues>[0] } | undefined)?.issues ?? [];
        problems.push(...formatIssues(issues).map((problem) => `rules.${rule.id}.${problem}`));
      }
    } else if (Object.keys(rawSettings).length > 0) {
      problems.push(`rules.${rule.id}: unknown setting(s) ${Object.keys(rawSettings).join(', ')}; this rule has none besides "mode"`);
    }
    ruleConfigs[rule.id] = { mode, settings };
  }
  if (problems.length > 0) throw new ConfigError(problems);

  return {
    defaultMode: global.defaultMode,
    exemptionTagKey: global.exemptionTagKey,
    ignorePrincipals: global.ignorePrincipals,
    trustedAccounts: global.trustedAccounts,
    maxWritesPerInvocation: global.maxWritesPerInvocation,
    writeBudget: global.writeBudget,
    apiShare: global.apiShare,
    exemptionTags: global.exemptionTags,
    exemptions: global.exemptions,
    warnings,
    notifications: global.notifications,
    approvals: global.approvals,
    accounts: global.accounts,
    // The portal as the console shows it, with or without its trailing slash.
    ...(global.consoleSignIn ? { consoleSignIn: { ...global.consoleSignIn, portalUrl: global.consoleSignIn.portalUrl.replace(/\/$/, '') } } : {}),
    rules: ruleConfigs,
  };
}

/**
 * The config as it applies to one account: its rule modes (the account's mode
 * for the rule, else its `defaultMode`, else the file's), its trusted
 * accounts added to the file's, and only the exemptions that hold in it.
 * Every decision is made with it.
 */
export function configForAccount(config: Config, account: string): Config {
  // An exemption that names accounts holds in those only.
  const exemptions = config.exemptions.filter((exemption) => exemption.accounts === undefined || exemption.accounts.includes(account));
  const own = Object.hasOwn(config.accounts, account) ? config.accounts[account] : undefined;
  if (!own) return exemptions.length === config.exemptions.length ? config : { ...config, exemptions };
  const rules = Object.fromEntries(
    Object.entries(config.rules).map(([id, rule]) => [id, { ...rule, mode: own.modes[id] ?? own.defaultMode ?? rule.mode }]),
  );
  return { ...config, rules, exemptions, trustedAccounts: [...new Set([...config.trustedAccounts, ...own.trustedAccounts])] };
}

/** How an alert's console links sign in to `account`: the access portal, with the account's permission set or the file's. */
export function consoleSignIn(config: Config, account: string): ConsoleSignIn | undefined {
  if (!config.consoleSignIn) return undefined;
  const own = Object.hasOwn(config.accounts, account) ? config.accounts[account]?.consoleRole : undefined;
  return own ? { ...config.consoleSignIn, roleName: own } : config.consoleSignIn;
}

/** The name the config gives an account, for alerts. */
export function accountName(config: Config, account: string): string | undefined {
  return Object.hasOwn(config.accounts, account) ? config.accounts[account]?.name : undefined;
}

/**
 * The mode a rule runs in. `DRY_RUN=true` caps every rule at `propose`:
 * nothing is ever applied, whatever the file says.
 */
export function modeFor(rule: Rule, config: Config, env: Readonly<Record<string, string | undefined>> = {}): Mode {
  const mode = config.rules[rule.id]?.mode ?? rule.defaultMode ?? config.defaultMode;
  if (env['DRY_RUN']?.toLowerCase() === 'true' && mode === 'remediate') return 'propose';
  return mode;
}

/** Each rule's default settings, parsed once (a replay asks for them for every event) and frozen, since every event shares them. */
const defaultSettings = new WeakMap<Rule, unknown>();

export function settingsFor<T>(rule: Rule, config: Config): T {
  const configured = config.rules[rule.id];
  if (configured) return configured.settings as T;
  if (!defaultSettings.has(rule)) defaultSettings.set(rule, deepFreeze(rule.settings ? rule.settings.parse({}) : {}));
  return defaultSettings.get(rule) as T;
}
