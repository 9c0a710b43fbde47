/**
 * A cap on writes that holds across events: `maxWritesPerInvocation` bounds
 * one event, this bounds a burst of them (a Terraform apply, an incident, a
 * redrive of the dead-letter queue). Every remediation function of the
 * deployment reserves its plan's writes from one counter per time window in
 * the stack's DynamoDB table; past the budget, plans are proposed instead of
 * applied, and the alert says why.
 *
 * The counter is an atomic conditional `ADD`, so concurrent functions never
 * overspend. A counter that cannot be read or written grants nothing: the bot
 * fails closed, to proposing.
 */
import { UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { errorCode } from './aws.js';

export type BudgetAnswer =
  | { readonly granted: true }
  | { readonly granted: false; readonly reason: string };

export interface WriteBudget {
  /**
   * Takes `writes` from the current window's budget, all or nothing. In an
   * Organization hub, each member `account` has a budget of its own, so a
   * burst in one account never stops the fixes in another.
   */
  reserve(writes: number, now: Date, account?: string): Promise<BudgetAnswer>;
}

interface WriteBudgetSettings {
  readonly maxWrites: number;
  readonly windowMinutes: number;
  /** All member accounts of a hub together, per window; ten times `maxWrites` when absent. */
  readonly allMembersMaxWrites?: number;
}

/** The start of the window `now` falls in: `2025-03-04T10:00:00.000Z`. */
function windowStart(now: Date, windowMinutes: number): string {
  const windowMs = windowMinutes * 60_000;
  return new Date(Math.floor(now.getTime() / windowMs) * windowMs).toISOString();
}

/**
 * A window's counters: the deployment's own account `budget#<window>`, a
 * member account `budget#<account>#<window>`, and all member accounts
 * together `budget#members#<window>`.
 */
function budgetKey(window: string, scope?: string): string {
  return `budget#${scope === undefined ? '' : `${scope}#`}${window}`;
}

export function dynamoDbWriteBudget(options: { readonly tableName: string; readonly client: DynamoDBClient; readonly settings: WriteBudgetSettings }): WriteBudget {
  const { tableName, client, settings } = options;
  const allMembers = settings.allMembersMaxWrites ?? settings.maxWrites * 10;
  /** Adds `writes` to a counter if it stays within `limit` (always, with no limit: a give-back); true when it did. */
  const take = async (key: string, writes: number, now: Date, limit?: number): Promise<boolean> => {
    try {
      await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: { id: { S: key } },
          UpdateExpression: 'ADD #writes :writes SET #expiration = if_not_exists(#expiration, :expiration)',
          ...(limit === undefined ? {} : { ConditionExpression: 'attribute_not_exists(#writes) OR #writes <= :left' }),
          ExpressionAttributeNames: { '#writes': 'writes', '#expiration': 'expiration' },
          ExpressionAttributeValues: {
            ':writes': { N: String(writes) },
            ...(limit === undefined ? {} : { ':left': { N: String(limit - writes) } }),
            // Kept a day past its window, then removed by the table's TTL.
            ':expiration': { N: String(Math.floor(now.getTime() / 1000) + settings.windowMinutes * 60 + 86_400) },
          },
        }),
      );
      return true;
    } catch (error) {
      if (errorCode(error) === 'ConditionalCheckFailedException') return false;
      throw error;
    }
  };
  const per = `per ${settings.windowMinutes} minutes`;
  return {
    async reserve(writes, now, account) {
      const limit = account === undefined ? settings.maxWrites : Math.min(settings.maxWrites, allMembers);
      if (writes > limit) return { granted: false, reason: `the plan has ${writes} write call(s), more than the whole budget of ${limit} ${per} (writeBudget)` };
      const window = windowStart(now, settings.windowMinutes);
      try {
        if (account === undefined) {
          if (await take(budgetKey(window), writes, now, settings.maxWrites)) return { granted: true };
          return { granted: false, reason: `the deployment's write budget of ${settings.maxWrites} write calls ${per} is spent (writeBudget)` };
        }
        // A member account's writes come from its own budget and from all members' together, so a burst across many accounts is capped too.
        if (!(await take(budgetKey(window, 'members'), writes, now, allMembers))) {
          return { granted: false, reason: `the write budget of all member accounts together, ${allMembers} write calls ${per}, is spent (writeBudget.allMembersMaxWrites)` };
        }
        if (await take(budgetKey(window, account), writes, now, settings.maxWrites)) return { granted: true };
        // Given back to all members' budget, since this account's was spent. Should that fail, it stays spent: less is granted, never more.
        await take(budgetKey(window, 'members'), -writes, now).catch(() => false);
        return { granted: false, reason: `account ${account}'s write budget of ${settings.maxWrites} write calls ${per} is spent (writeBudget)` };
      } catch (error) {
        return { granted: false, reason: `the write budget could not be checked (${errorCode(error)}), so nothing is applied` };
      }
    },
  };
}
