// Stands in for @aws-lambda-powertools/jmespath in the Lambda bundles (see
// esbuild-plugins.cjs). Powertools Idempotency imports JMESPath to pick the
// idempotency key out of a payload by expression; the bot hashes the event id
// itself and gives it no expression (engine/idempotency.ts), so the 23 KB
// interpreter would only be loaded, never run. Should an expression ever be
// configured, this fails loudly instead of hashing the wrong thing.
export class PowertoolsFunctions {}

export function search(expression) {
  throw new Error(`JMESPath is not bundled: the bot evaluates no expression (asked for ${JSON.stringify(expression)})`);
}
