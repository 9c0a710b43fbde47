/**
 * Every fault the bot raises on purpose is a `RemediationError`, of one of a
 * few kinds, so that a caller can tell a bad input from a failed step or an
 * alert that could not be delivered without matching on messages. Each
 * subclass keeps its own `name` (logs and tests read it).
 */
type FaultKind = 'parse' | 'config' | 'step' | 'lookup' | 'rule' | 'delivery' | 'store';

export abstract class RemediationError extends Error {
  abstract readonly kind: FaultKind;
}

/** An input that is not what it claims: an event, a record, a pattern. */
export abstract class ParseFault extends RemediationError {
  readonly kind = 'parse';
}

/** A config file, a deploy parameter or a command line the bot refuses. */
export abstract class ConfigFault extends RemediationError {
  readonly kind = 'config';
}

/** A plan step that could not be run as planned. */
export abstract class StepFault extends RemediationError {
  readonly kind = 'step';
}

/** A rule declared wrongly (caught at load, in the tests). */
export abstract class RuleFault extends RemediationError {
  readonly kind = 'rule';
}

/** An alert or a message that could not be signed, verified or delivered. */
export abstract class DeliveryFault extends RemediationError {
  readonly kind = 'delivery';
}

/** A record the bot keeps (undo records) that could not be read or written. */
export abstract class StoreFault extends RemediationError {
  readonly kind = 'store';
}

/** What a person does about an error, when the bot's own fault says (a member account not enrolled, …). */
export function hintOf(error: unknown): string | undefined {
  const hint = typeof error === 'object' && error !== null ? (error as { hint?: unknown }).hint : undefined;
  return typeof hint === 'string' && hint.length > 0 ? hint : undefined;
}
