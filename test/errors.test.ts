/** Every fault the bot raises on purpose is a RemediationError of a known kind, whatever module raised it. */
import { describe, expect, it } from 'vitest';
import { InputRefusedError } from '../cli/inputs.js';
import { UnsupportedOperationError } from '../engine/aws.js';
import { ConfigError, parseConfig } from '../engine/config.js';
import { ConfigFault, DeliveryFault, ParseFault, RemediationError, RuleFault, StepFault, StoreFault } from '../engine/errors.js';
import { EventParseError, parseEvent } from '../engine/event.js';
import { PatternError } from '../engine/pattern-match.js';
import { UndoRecordError } from '../engine/undo-store.js';
import { AlertSigningError } from '../notify/alert-signature.js';
import { SlackDeliveryError } from '../notify/slack-delivery.js';
import { NotifierEventError } from '../notify/notifier.js';
import { WebhookSecretError } from '../notify/webhook-secret.js';
import { allRules } from '../remediations/registry.js';
import { resourceOf, UnknownActionError } from '../rulekit/resources.js';

const KINDS = { parse: ParseFault, config: ConfigFault, step: StepFault, rule: RuleFault, delivery: DeliveryFault, store: StoreFault } as const;

describe('one error base', () => {
  it.each([
    ['EventParseError', EventParseError, 'parse'],
    ['PatternError', PatternError, 'parse'],
    ['InputRefusedError', InputRefusedError, 'parse'],
    ['NotifierEventError', NotifierEventError, 'parse'],
    ['ConfigError', ConfigError, 'config'],
    ['WebhookSecretError', WebhookSecretError, 'config'],
    ['UnsupportedOperationError', UnsupportedOperationError, 'step'],
    ['UnknownActionError', UnknownActionError, 'rule'],
    ['AlertSigningError', AlertSigningError, 'delivery'],
    ['SlackDeliveryError', SlackDeliveryError, 'delivery'],
    ['UndoRecordError', UndoRecordError, 'store'],
  ] as const)('%s is a RemediationError of kind %s', (_, ErrorClass, kind) => {
    expect(ErrorClass.prototype).toBeInstanceOf(RemediationError);
    expect(ErrorClass.prototype).toBeInstanceOf(KINDS[kind]);
  });

  it('raises them with their kind and name where the bot refuses input', () => {
    const parsed = parseEvent({ hello: 'world' });
    expect(parsed.success).toBe(false);
    if (!parsed.success) expect([parsed.error.kind, parsed.error.name]).toStrictEqual(['parse', 'EventParseError']);
    const config = (() => {
      try {
        parseConfig({ rules: { 'sg-open-ingress': { mode: 'sometimes' } } }, allRules);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(config).toBeInstanceOf(RemediationError);
    expect((config as RemediationError).kind).toBe('config');
    expect(() => resourceOf('ec2:NoSuchAction')).toThrow(UnknownActionError);
  });
});
