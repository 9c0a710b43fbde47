/**
 * Credentials for a member account, in an Organization hub: `sts:AssumeRole`
 * into the account's member role for the family, in a session named after
 * the event (CloudTrail in the member account then names the event behind
 * each call), for 15 minutes, cached for the event's calls (the lookups,
 * the plan, its retries). A session per event rather than per account: the
 * bot's paced rate is far below STS's 600 requests per second, and the
 * attribution is worth the call.
 */
import { AssumeRoleCommand, STSClient, type Credentials } from '@aws-sdk/client-sts';
import type { AwsCredentialIdentity } from '@smithy/types';
import { memberRoleArn, memberSessionName, MemberRoleError, partitionOf, unreachableGateway, type MemberAccess, type MemberTarget } from '../engine/accounts.js';
import { createAwsGateway, errorCode, UnsupportedOperationError, type AwsGateway, type CommandTable } from '../engine/aws.js';
import type { Env } from '../engine/decide.js';
import type { Pacer } from '../engine/pacing.js';

/** Gateways of the latest events; each holds its session's credentials. */
const CACHED_EVENTS = 16;
/** A session this close to its end is not used for a new call. */
const EXPIRY_MARGIN_MS = 60_000;

interface MemberAccessOptions {
  readonly family: string;
  readonly commands: CommandTable;
  readonly env: Env;
  readonly pacer?: Pacer;
  readonly sts?: STSClient;
  readonly now?: () => number;
}

/** An assumed role's credentials as the SDK takes them, expiring when STS says (else at `expires`); an answer without keys is an error. */
export function sessionCredentials(credentials: Credentials | undefined, expires: Date): AwsCredentialIdentity & { readonly expiration: Date } {
  if (!credentials?.AccessKeyId || !credentials.SecretAccessKey) throw new Error('STS answered without credentials');
  return {
    accessKeyId: credentials.AccessKeyId,
    secretAccessKey: credentials.SecretAccessKey,
    ...(credentials.SessionToken ? { sessionToken: credentials.SessionToken } : {}),
    expiration: credentials.Expiration ?? expires,
  };
}

/** The hub's access to member accounts, when the deployment serves any (`BOT_MEMBER_ACCOUNTS` or `BOT_ORGANIZATION_ID`). */
export function memberAccessFromEnv(options: MemberAccessOptions): MemberAccess | undefined {
  const { env, family, commands, pacer } = options;
  if (!env['BOT_ACCOUNT'] || (!env['BOT_MEMBER_ACCOUNTS'] && !env['BOT_ORGANIZATION_ID'])) return undefined;
  const sts = options.sts ?? new STSClient(env['AWS_REGION'] ? { region: env['AWS_REGION'] } : {});
  const now = options.now ?? Date.now;
  const partition = partitionOf(env['BOT_PRINCIPALS']);
  const cache = new Map<string, { readonly gateway: Promise<AwsGateway>; readonly expires: number }>();
  /** Assumes the role once per event (the first call needs it); a refusal becomes a gateway that says why. */
  const session = async ({ account, region, eventId }: MemberTarget): Promise<AwsGateway> => {
    const roleArn = memberRoleArn(partition, account, family);
    try {
      const { Credentials: answer } = await sts.send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: memberSessionName(eventId), DurationSeconds: 900 }));
      const credentials = sessionCredentials(answer, new Date(now() + 900_000));
      const raw = createAwsGateway(commands, { region, maxAttempts: 1, credentials });
      cache.set(`${account}#${region}#${eventId}`, { gateway: Promise.resolve(raw), expires: credentials.expiration.getTime() });
      return raw;
    } catch (error) {
      return unreachableGateway(
        new MemberRoleError(
          `could not assume ${roleArn} (${errorCode(error)})`,
          `account ${account} is not enrolled, or its member role does not trust this function's role: deploy the member StackSet to it (npx remediate member-template, docs/organizations.md)`,
          { cause: error },
        ),
      );
    }
  };
  return {
    async gatewayFor(target) {
      const key = `${target.account}#${target.region}#${target.eventId}`;
      let inner: Promise<AwsGateway> | undefined;
      const current = () => {
        const cached = cache.get(key);
        if (cached && cached.expires - EXPIRY_MARGIN_MS > now()) return cached.gateway;
        inner ??= session(target);
        return inner;
      };
      // Nothing is assumed until a call needs it: an event the engine skips (the bot's own call, a failed one) costs no STS call.
      const lazy: AwsGateway = {
        call: async (service, operation, input) => (await current()).call(service, operation, input),
        // A plan's wait steps (a snapshot completing, …) poll in the member account too.
        wait: async (service, waiter, input, bounds) => {
          const gateway = await current();
          if (!gateway.wait) throw new UnsupportedOperationError(`${service}:${waiter}`);
          return gateway.wait(service, waiter, input, bounds);
        },
      };
      while (cache.size > CACHED_EVENTS) cache.delete(cache.keys().next().value ?? key);
      return pacer ? pacer.wrap(lazy, `${target.account}/${target.region}`) : lazy;
    },
  };
}
