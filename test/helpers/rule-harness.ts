/**
 * The one harness every rule test uses: a registered rule evaluated as
 * `decide` would (config parsed, settings defaulted, a fixed clock), and its
 * family's Lambda handler wired as deployed (the family's commands and the
 * alerts', a recording logger, the test topic, the bot's exact identity),
 * with AWS mocked by the caller (`aws-sdk-client-mock`).
 */
import { createAwsGateway } from '../../engine/aws.js';
import { parseConfig } from '../../engine/config.js';
import type { Env } from '../../engine/decide.js';
import type { CloudTrailEvent } from '../../engine/event.js';
import { type HandlerOptions } from '../../engine/lambda.js';
import { remediationHandler, runtimeCommands } from '../../handlers/runtime.js';
import type { Facts, Family, Mode, Rule, Verdict } from '../../engine/types.js';
import { familiesByName, type DeployedFamily } from '../../remediations/registry.js';
import { BOT_ENV } from './bot.js';
import { recordingLogger, type RecordingLogger } from './logger.js';
import { registeredRule } from './registered.js';

export const NOW = new Date('2025-03-10T00:00:00Z');
export const TOPIC = 'arn:aws:sns:us-east-1:111122223333:remediation-bot-test-alerts';
export const TEST_REGION = 'us-east-1';

export interface EvaluateOptions {
  readonly facts?: Facts;
  /** The config file's content (`rules`, `exemptions`, …), parsed as the deployment would. */
  readonly config?: unknown;
  readonly botRoles?: readonly string[];
  readonly now?: Date;
}

/** Evaluates `rule` (or the registered rule with that id) on `event`, with the rules of its family in the config. */
export function evaluateRule(rule: Rule | string, event: CloudTrailEvent, options: EvaluateOptions = {}): Verdict {
  const subject = typeof rule === 'string' ? registeredRule(rule) : rule;
  const family = familiesByName[subject.family as DeployedFamily];
  const config = parseConfig(options.config ?? {}, family?.rules ?? [subject]);
  return subject.evaluate(event, options.facts ?? {}, {
    config,
    settings: config.rules[subject.id]?.settings,
    now: options.now ?? NOW,
    ...(options.botRoles ? { botRoles: options.botRoles } : {}),
  });
}

/** `evaluateRule` bound to one rule: `const evaluate = ruleEvaluator('sg-open-ingress')`. */
export function ruleEvaluator(id: string): (event: CloudTrailEvent, options?: EvaluateOptions) => Verdict {
  const rule = registeredRule(id);
  return (event, options) => evaluateRule(rule, event, options);
}

export interface HandlerHarnessOptions extends Partial<Omit<HandlerOptions, 'rules' | 'commands' | 'logger' | 'config' | 'env'>> {
  /** Mode per rule id; rules not named keep their default. */
  readonly modes?: Readonly<Record<string, Mode>>;
  /** Settings per rule id. */
  readonly settings?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** The rest of the config file (`exemptions`, `maxWritesPerInvocation`, …). */
  readonly config?: Readonly<Record<string, unknown>>;
  readonly env?: Env;
  readonly logger?: RecordingLogger;
}

/** A family's handler as deployed, against whatever the test mocked. */
export function familyHandler(family: Family | DeployedFamily, options: HandlerHarnessOptions = {}) {
  const { modes = {}, settings = {}, config: rest = {}, env = {}, logger = recordingLogger(), ...deps } = options;
  const subject = typeof family === 'string' ? familiesByName[family] : family;
  const commands = runtimeCommands(subject);
  const rules = Object.fromEntries(subject.rules.map((rule) => [rule.id, { ...(modes[rule.id] ? { mode: modes[rule.id] } : {}), ...settings[rule.id] }]));
  const config = parseConfig({ ...rest, rules }, subject.rules);
  const handler = remediationHandler({
    rules: subject.rules,
    commands,
    logger,
    config,
    env: { ALERT_TOPIC_ARN: TOPIC, AWS_LAMBDA_FUNCTION_NAME: `remediation-bot-test-${subject.name}`, ...BOT_ENV, ...env },
    gateway: createAwsGateway(commands, { region: TEST_REGION }),
    ...deps,
  });
  return { handler, logger, config };
}
