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
}

/** The start of the window `now` falls in, as the counter's key: `budget#2025-03-04T10:00:00.000Z`, or `budget#<account>#…` for a member account's. */
function budgetKey(now: Date, windowMinutes: number, account: string | undefined): string {
  const windowMs = windowMinutes * 60_000;
  return `budget#${account === undefined ? '' : `${account}#`}${new Date(Math.floor(now.getTime() / windowMs) * windowMs).toISOString()}`;
}

export function dynamoDbWriteBudget(options: { readonly tableName: string; readonly client: DynamoDBClient; readonly settings: WriteBudgetSettings }): WriteBudget {
  const { tableName, client, settings } = options;
  return {
    async reserve(writes, now, account) {
      if (writes > settings.maxWrites) {
        return { granted: false, reason: `the plan has ${writes} write call(s), more than the whole budget of ${settings.maxWrites} per ${settings.windowMinutes} minutes (writeBudget)` };
      }
      const key = budgetKey(now, settings.windowMinutes, account);
      try {
        await client.send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: { id: { S: key } },
            UpdateExpression: 'ADD #writes :writes SET #expiration = if_not_exists(#expiration, :expiration)',
            ConditionExpression: 'attribute_not_exists(#writes) OR #writes <= :left',
            ExpressionAttributeNames: { '#writes': 'writes', '#expiration': 'expiration' },
            ExpressionAttributeValues: {
              ':writes': { N: String(writes) },
              ':left': { N: String(settings.maxWrites - writes) },
              // Kept a day past its window, then removed by the table's TTL.
              ':expiration': { N: String(Math.floor(now.getTime() / 1000) + settings.windowMinutes * 60 + 86_400) },
            },
          }),
        );
        return { granted: true };
      } catch (error) {
        if (errorCode(error) === 'ConditionalCheckFailedException') {
          return { granted: false, reason: `the deployment's write budget of ${settings.maxWrites} write calls per ${settings.windowMinutes} minutes is spent (writeBudget)` };
        }
        return { granted: false, reason: `the write budget could not be checked (${errorCode(error)}), so nothing is applied` };
      }
    },
  };
}
