/**
 * `processEvent` with its alert port wired as the runtime wires it
 * (`handlers/runtime.ts`): SNS to `env.ALERT_TOPIC_ARN` through the test's
 * gateway, signed when `env.ALERT_SIGNING_KEY_ID` is set. Tests that mock SNS
 * then see exactly the `Publish` calls a deployed function makes.
 */
import { processEvent as engineProcessEvent, type EngineDeps, type InvocationContext, type InvocationResult } from '../../engine/lambda.js';
import { alertSinkFromEnv } from '../../handlers/runtime.js';

export function processEvent(raw: unknown, deps: EngineDeps, context?: InvocationContext): Promise<InvocationResult> {
  const alerts = deps.alerts ?? alertSinkFromEnv(deps.env, deps.gateway);
  return engineProcessEvent(raw, alerts ? { ...deps, alerts } : deps, context);
}
