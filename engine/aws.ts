/**
 * The only place that talks to AWS. A family's handler passes the command
 * table of exactly the SDK commands its rules use, so each bundle carries only
 * those clients and commands.
 */
import { hintOf, StepFault } from './errors.js';
import type { FactSource } from './decide.js';
import type { Fact, Lookup, Service } from './types.js';

/** Structural view of an SDK v3 client: enough to send and to be mocked by aws-sdk-client-mock. */
export interface SdkClient {
  send(command: unknown, options?: { abortSignal?: AbortSignal }): Promise<unknown>;
}
export type SdkClientConstructor = new (config: Record<string, unknown>) => SdkClient;
export type SdkCommandConstructor = new (input: never) => unknown;

/** An SDK v3 waiter such as `waitUntilSnapshotCompleted(params, input)` from `@aws-sdk/client-ec2`. */
export type SdkWaiter = (params: never, input: never) => Promise<unknown>;

export interface CommandTable {
  readonly clients: Partial<Record<Service, SdkClientConstructor>>;
  /** Keyed `service:Operation`, for example `ec2:RevokeSecurityGroupIngress`. */
  readonly commands: Readonly<Record<string, SdkCommandConstructor>>;
  /** The waiters that `wait` plan steps may use, keyed `service:waiterName`, for example `ec2:waitUntilSnapshotCompleted`. */
  readonly waiters?: Readonly<Record<string, SdkWaiter>>;
}

/** One table holding every command of the given tables: for callers that run more than one family's plans. */
export function mergeCommandTables(tables: readonly CommandTable[]): CommandTable {
  const clients: Partial<Record<Service, SdkClientConstructor>> = {};
  const commands: Record<string, SdkCommandConstructor> = {};
  const waiters: Record<string, SdkWaiter> = {};
  for (const table of tables) {
    Object.assign(clients, table.clients);
    Object.assign(commands, table.commands);
    Object.assign(waiters, table.waiters ?? {});
  }
  return { clients, commands, ...(Object.keys(waiters).length > 0 ? { waiters } : {}) };
}

/** Bounds of one waiter run, in seconds as the SDK takes them. */
export interface WaitOptions {
  readonly maxWaitSeconds: number;
  readonly minDelaySeconds: number;
  readonly maxDelaySeconds: number;
}

export interface AwsGateway {
  call(service: Service, operation: string, input: Readonly<Record<string, unknown>>): Promise<unknown>;
  /**
   * Runs a waiter registered in the command table until it succeeds, fails, or
   * `maxWaitSeconds` pass (the SDK then throws a `TimeoutError`). Gateways
   * without waiters leave it out; a plan with a wait step then fails cleanly.
   */
  wait?(service: Service, waiter: string, input: Readonly<Record<string, unknown>>, options: WaitOptions): Promise<unknown>;
}

export class UnsupportedOperationError extends StepFault {
  override readonly name = 'UnsupportedOperationError';
  constructor(readonly key: string) {
    super(`no SDK command is registered for ${key} in this function's command table`);
  }
}

interface GatewayOptions {
  readonly region?: string;
  /** Bounded retry budget for throttling and 5xx, with client-side rate limiting (`adaptive`). */
  readonly maxAttempts?: number;
  /** Credentials other than the function's own: a member account's role (`accounts.ts`). */
  readonly credentials?: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string; readonly expiration?: Date };
}

/**
 * One client per service, created on first use and reused for the container's
 * life. Endpoints follow the SDK's standard `AWS_ENDPOINT_URL` and
 * `AWS_ENDPOINT_URL_<SERVICE>` variables, so a local emulator works unchanged.
 */
export function createAwsGateway(table: CommandTable, options: GatewayOptions = {}): AwsGateway & { client(service: Service): SdkClient } {
  const clients = new Map<Service, SdkClient>();
  const client = (service: Service): SdkClient => {
    let existing = clients.get(service);
    if (!existing) {
      const Client = table.clients[service];
      if (!Client) throw new UnsupportedOperationError(`${service}:*`);
      const maxAttempts = options.maxAttempts ?? 5;
      existing = new Client({
        // One attempt means the caller paces and retries (`pacing.ts`): the adaptive mode's limiter would wait in real time, past any deadline.
        retryMode: maxAttempts > 1 ? 'adaptive' : 'standard',
        maxAttempts,
        ...(options.region ? { region: options.region } : {}),
        ...(options.credentials ? { credentials: options.credentials } : {}),
      });
      clients.set(service, existing);
    }
    return existing;
  };
  return {
    client,
    async call(service, operation, input) {
      const key = `${service}:${operation}`;
      const Command = table.commands[key];
      if (!Command) throw new UnsupportedOperationError(key);
      return client(service).send(new Command(input as never));
    },
    async wait(service, waiterName, input, options) {
      const key = `${service}:${waiterName}`;
      const waiter = table.waiters?.[key];
      if (!waiter) throw new UnsupportedOperationError(key);
      const params = {
        client: client(service),
        maxWaitTime: options.maxWaitSeconds,
        minDelay: options.minDelaySeconds,
        maxDelay: options.maxDelaySeconds,
      };
      return waiter(params as never, input as never);
    },
  };
}

/** The AWS error code of an SDK v3 exception (`name`, or `Code` on some XML services). */
export function errorCode(error: unknown): string {
  if (typeof error !== 'object' || error === null) return 'UnknownError';
  const { name, Code, code } = error as { name?: unknown; Code?: unknown; code?: unknown };
  for (const candidate of [Code, code, name]) {
    if (typeof candidate === 'string' && candidate.length > 0 && candidate !== 'Error') return candidate;
  }
  return 'UnknownError';
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Live facts: read-only lookups. A "not found" is a fact (`null`); any other failure makes the fact unavailable. */
export function liveFacts(gateway: AwsGateway): FactSource {
  return {
    async fetch(lookup: Lookup, input): Promise<Fact> {
      try {
        const output = await gateway.call(lookup.service, lookup.operation, input);
        return { status: 'ok', value: lookup.select(output) };
      } catch (error) {
        const code = errorCode(error);
        // Out of time is not a missing fact: the event is retried whole, nothing decided (`pacing.ts`).
        if (code === 'OutOfTime') throw error;
        if (lookup.notFoundCodes?.includes(code)) return { status: 'ok', value: null };
        const hint = hintOf(error);
        return { status: 'unavailable', reason: `${lookup.operation} failed: ${code}${hint ? ` (${hint})` : ''}` };
      }
    },
  };
}
