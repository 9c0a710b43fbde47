/**
 * Noise control: SNS subscription filter policies (scope `MessageAttributes`)
 * computed from the config's per-channel minimum severity, so that a message
 * below a channel's threshold is never delivered to it. They route on the
 * `severityRank` Number attribute that `notify/sns.ts` publishes (low 1,
 * medium 2, high 3, critical 4).
 *
 * At the lowest threshold with nothing excluded there is no policy at all.
 * Otherwise the policy is an `$or`: an alert at or above the threshold, or a
 * message with no `severityRank` at all. The second branch lets through the
 * CloudWatch alarm notifications the stack sends to the same topic (they carry
 * no message attributes), so no channel threshold ever silences an alarm.
 *
 * No outcome is excluded by default, on purpose: `already-fixed` can be the
 * only alert of an event (a retry after the first attempt applied the fix but
 * failed to publish), and `exempt` is the audit trail of a deliberate
 * exception. `excludeOutcomes` is there for a team that decides otherwise.
 *
 * `matchesFilterPolicy` evaluates the operators used here with SNS semantics,
 * so tests can check that a policy selects exactly the intended messages.
 */
import { severityRank, type Outcome, type Severity } from '../engine/types.js';

type NumericCondition = { readonly numeric: readonly ['>=' | '>' | '<=' | '<' | '=', number] };
type AnythingButCondition = { readonly 'anything-but': readonly (string | number)[] };
type ExistsCondition = { readonly exists: boolean };
type FilterCondition = string | number | NumericCondition | AnythingButCondition | ExistsCondition;
type AttributeConditions = Readonly<Record<string, readonly FilterCondition[]>>;
/** Attribute keys with their conditions (AND), optionally `$or` of such branches. */
export type FilterPolicy = AttributeConditions | { readonly $or: readonly AttributeConditions[] };


interface ChannelFilterOptions {
  readonly minSeverity: Severity;
  readonly excludeOutcomes?: readonly Outcome[];
}

/** The channel's filter policy; `undefined` means "no policy: deliver everything". */
export function channelFilterPolicy(options: ChannelFilterOptions): FilterPolicy | undefined {
  const excluded = [...new Set(options.excludeOutcomes ?? [])];
  if (severityRank(options.minSeverity) === 1 && excluded.length === 0) return undefined;
  return {
    $or: [
      {
        severityRank: [{ numeric: ['>=', severityRank(options.minSeverity)] }],
        ...(excluded.length > 0 ? { outcome: [{ 'anything-but': excluded }] } : {}),
      },
      { severityRank: [{ exists: false }] },
    ],
  };
}

interface NotificationSettings {
  readonly slackMinSeverity: Severity;
  readonly emailMinSeverity: Severity;
}

/** The filter policies of the Slack notifier's and the email subscription, from `config.notifications`. */
export function notificationFilterPolicies(settings: NotificationSettings): { readonly slack?: FilterPolicy; readonly email?: FilterPolicy } {
  const slack = channelFilterPolicy({ minSeverity: settings.slackMinSeverity });
  const email = channelFilterPolicy({ minSeverity: settings.emailMinSeverity });
  return { ...(slack ? { slack } : {}), ...(email ? { email } : {}) };
}

/** A message attribute as SNS receives it in `Publish`. */
export interface MessageAttribute {
  readonly DataType: string;
  readonly StringValue?: string;
}

function conditionMatches(condition: FilterCondition, attribute: MessageAttribute | undefined): boolean {
  if (typeof condition === 'object' && 'exists' in condition) return condition.exists === (attribute !== undefined);
  if (attribute === undefined) return false;
  const isNumber = attribute.DataType === 'Number';
  const text = attribute.StringValue ?? '';
  const number = isNumber ? Number(text) : Number.NaN;
  if (typeof condition === 'string') return !isNumber && text === condition;
  if (typeof condition === 'number') return isNumber && number === condition;
  if ('numeric' in condition) {
    if (!isNumber || Number.isNaN(number)) return false;
    const [operator, bound] = condition.numeric;
    switch (operator) {
      case '>=':
        return number >= bound;
      case '>':
        return number > bound;
      case '<=':
        return number <= bound;
      case '<':
        return number < bound;
      case '=':
        return number === bound;
    }
  }
  // anything-but: true unless the value is one of the listed (strings compare to String attributes, numbers to Number ones).
  return !condition['anything-but'].some((value) => (typeof value === 'number' ? isNumber && number === value : !isNumber && text === value));
}

/**
 * SNS semantics for attribute policies: every key must match (AND), any
 * condition of a key may match (OR), `$or` matches when any branch does, and a
 * message without an attribute the policy names matches only `exists: false`.
 */
export function matchesFilterPolicy(policy: FilterPolicy | undefined, attributes: Readonly<Record<string, MessageAttribute>>): boolean {
  if (policy === undefined) return true;
  if ('$or' in policy) return (policy.$or as readonly AttributeConditions[]).some((branch) => matchesFilterPolicy(branch, attributes));
  return Object.entries(policy as AttributeConditions).every(([key, conditions]) => conditions.some((condition) => conditionMatches(condition, attributes[key])));
}
