/**
 * Stored proposals: when approvals are on, a decision whose outcome is
 * `proposed` is kept, whole, under an opaque id, so that a person can approve
 * it later (`remediate approve <id>`) and the family function runs exactly
 * that plan, re-checked against the present. Nothing in an alert is ever
 * executed: the alert carries only the id.
 *
 * An item lives in the idempotency table (`id` = `proposal#<family>#<token>`,
 * so each function's role can be limited to its own family's proposals, as
 * with undo records). It holds the decision as JSON, a SHA-256 of that JSON
 * (checked before anything runs), when it expires (7 days by default), and
 * its status: `open` until one person approves or dismisses it, which is a
 * conditional write, so double clicks and retries settle it once.
 */
import { createHash } from 'node:crypto';
import { ConditionalCheckFailedException, GetItemCommand, PutItemCommand, ScanCommand, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { PROPOSAL_ID } from './proposal-id.js';
import type { Decision } from './types.js';

export { PROPOSAL_ID };

export const DEFAULT_PROPOSAL_DAYS = 7;
/** Settled proposals stay readable this long after they expire, then DynamoDB's TTL removes them. */
const KEEP_AFTER_EXPIRY_DAYS = 30;


export type ProposalStatus = 'open' | 'approved' | 'dismissed';

export interface StoredProposal {
  readonly id: string;
  readonly family: string;
  readonly eventId: string;
  readonly rule: string;
  readonly createdAt: string;
  readonly expiresAt: string;
  /** The decision, as JSON: the plan in it is what an approval runs. */
  readonly decision: string;
  /** SHA-256 (hex) of `decision`. */
  readonly hash: string;
  /** The bot's MAC of {@link sealedText} (KMS HMAC with the stack's signing key), when the deployment seals proposals. */
  readonly seal?: string;
  readonly status: ProposalStatus;
  /** Who approved or dismissed it (an IAM ARN, or a Slack user), and when. */
  readonly settledBy?: string;
  readonly settledAt?: string;
  /** What running it ended as (`applied`, `already-fixed`, `stale`, …), once it ran. */
  readonly outcome?: string;
}

function base32(bytes: Buffer): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567';
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += alphabet[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}

/** The same event and rule always give the same id, so a duplicate delivery stores nothing new. */
export function proposalIdFor(family: string, eventId: string, rule: string): string {
  return `${family}.${base32(createHash('sha256').update(`${eventId}\n${rule}`).digest()).slice(0, 24)}`;
}

/** What the seal covers: the id, the event, the rule, the expiry and the decision's hash, under a tag no alert body can start with. */
export function sealedText(proposal: Pick<StoredProposal, 'id' | 'eventId' | 'rule' | 'expiresAt' | 'hash'>): string {
  return ['remediation-bot proposal v1', proposal.id, proposal.eventId, proposal.rule, proposal.expiresAt, proposal.hash].join('\n');
}

export function hashOf(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A proposal to store for `decision`, created `now`, open for `days`. */
export function proposalFor(decision: Decision, family: string, now: Date, days = DEFAULT_PROPOSAL_DAYS): StoredProposal {
  const json = JSON.stringify(decision);
  return {
    id: proposalIdFor(family, decision.eventId, decision.rule),
    family,
    eventId: decision.eventId,
    rule: decision.rule,
    createdAt: now.toISOString(),
    expiresAt: new Date(now.getTime() + days * 86_400_000).toISOString(),
    decision: json,
    hash: hashOf(json),
    status: 'open',
  };
}

/** Why a proposal cannot be settled now. */
export type SettleRefusal = 'expired' | 'settled' | 'tampered';

export interface ProposalStore {
  /** Stores a new proposal; one already stored under its id (a duplicate delivery) is left as it is. */
  put(proposal: StoredProposal): Promise<void>;
  get(id: string): Promise<StoredProposal | undefined>;
  /**
   * Moves `proposal`, as the caller read it, to `status`, once: only while the
   * stored item is still that proposal (same hash), open and unexpired. The
   * proposal as settled, or why not.
   */
  settle(proposal: StoredProposal, status: Exclude<ProposalStatus, 'open'>, by: string, now: Date): Promise<{ readonly settled: StoredProposal } | { readonly refused: SettleRefusal; readonly current?: StoredProposal }>;
  /** Records what running an approved proposal ended as. */
  finish(id: string, outcome: string): Promise<void>;
  /** Proposals still open at `now`, oldest first. */
  listOpen(now: Date): Promise<StoredProposal[]>;
}

export function proposalKey(id: string): string {
  const match = PROPOSAL_ID.exec(id);
  if (!match) throw new Error(`not a proposal id: ${JSON.stringify(id)}`);
  return `proposal#${match[1]}#${match[2]}`;
}

function fromItem(item: Record<string, AttributeValue>): StoredProposal | undefined {
  const text = (name: string) => item[name]?.S;
  const [id, family, eventId, rule, createdAt, expiresAt, decision, hash, status] = ['proposalId', 'family', 'eventId', 'rule', 'createdAt', 'expiresAt', 'decision', 'hash', 'status'].map(text);
  if (!id || !family || !eventId || !rule || !createdAt || !expiresAt || !decision || !hash || (status !== 'open' && status !== 'approved' && status !== 'dismissed')) return undefined;
  const settledBy = text('settledBy');
  const settledAt = text('settledAt');
  const outcome = text('outcome');
  const seal = text('seal');
  return { id, family, eventId, rule, createdAt, expiresAt, decision, hash, status, ...(seal ? { seal } : {}), ...(settledBy ? { settledBy } : {}), ...(settledAt ? { settledAt } : {}), ...(outcome ? { outcome } : {}) };
}

export interface DynamoDbProposalStoreOptions {
  readonly tableName: string;
  readonly client: Pick<DynamoDBClient, 'send'>;
}

export function dynamoDbProposalStore(options: DynamoDbProposalStoreOptions): ProposalStore {
  const { tableName, client } = options;
  const get = async (id: string): Promise<StoredProposal | undefined> => {
    const { Item: item } = await client.send(new GetItemCommand({ TableName: tableName, Key: { id: { S: proposalKey(id) } }, ConsistentRead: true }));
    return item ? fromItem(item) : undefined;
  };
  return {
    async put(proposal) {
      const expiration = Math.floor(Date.parse(proposal.expiresAt) / 1000) + KEEP_AFTER_EXPIRY_DAYS * 86_400;
      try {
        await client.send(
          new PutItemCommand({
            TableName: tableName,
            Item: {
              id: { S: proposalKey(proposal.id) },
              proposalId: { S: proposal.id },
              family: { S: proposal.family },
              eventId: { S: proposal.eventId },
              rule: { S: proposal.rule },
              createdAt: { S: proposal.createdAt },
              expiresAt: { S: proposal.expiresAt },
              decision: { S: proposal.decision },
              hash: { S: proposal.hash },
              ...(proposal.seal ? { seal: { S: proposal.seal } } : {}),
              status: { S: 'open' },
              expiration: { N: String(expiration) },
            },
            ConditionExpression: 'attribute_not_exists(id)',
          }),
        );
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
      }
    },

    get,

    async settle(current, status, by, now) {
      const id = current.id;
      if (hashOf(current.decision) !== current.hash) return { refused: 'tampered', current };
      if (current.status !== 'open') return { refused: 'settled', current };
      if (Date.parse(current.expiresAt) <= now.getTime()) return { refused: 'expired', current };
      try {
        await client.send(
          new UpdateItemCommand({
            TableName: tableName,
            Key: { id: { S: proposalKey(id) } },
            UpdateExpression: 'SET #status = :status, #by = :by, #at = :at',
            // Exactly once: only an open proposal with the hash that was read, still unexpired.
            ConditionExpression: '#status = :open AND #hash = :hash AND #expiresAt > :now',
            ExpressionAttributeNames: { '#status': 'status', '#by': 'settledBy', '#at': 'settledAt', '#hash': 'hash', '#expiresAt': 'expiresAt' },
            ExpressionAttributeValues: {
              ':status': { S: status },
              ':by': { S: by },
              ':at': { S: now.toISOString() },
              ':open': { S: 'open' },
              ':hash': { S: current.hash },
              ':now': { S: now.toISOString() },
            },
          }),
        );
      } catch (error) {
        if (!(error instanceof ConditionalCheckFailedException)) throw error;
        const after = await get(id);
        return { refused: after && after.status !== 'open' ? 'settled' : 'expired', ...(after ? { current: after } : {}) };
      }
      return { settled: { ...current, status, settledBy: by, settledAt: now.toISOString() } };
    },

    async finish(id, outcome) {
      await client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: { id: { S: proposalKey(id) } },
          UpdateExpression: 'SET #outcome = :outcome',
          ConditionExpression: 'attribute_exists(id)',
          ExpressionAttributeNames: { '#outcome': 'outcome' },
          ExpressionAttributeValues: { ':outcome': { S: outcome } },
        }),
      );
    },

    async listOpen(now) {
      const found: StoredProposal[] = [];
      let start: Record<string, AttributeValue> | undefined;
      do {
        const page = await client.send(
          new ScanCommand({
            TableName: tableName,
            FilterExpression: 'begins_with(id, :prefix) AND #status = :open AND #expiresAt > :now',
            ExpressionAttributeNames: { '#status': 'status', '#expiresAt': 'expiresAt' },
            ExpressionAttributeValues: { ':prefix': { S: 'proposal#' }, ':open': { S: 'open' }, ':now': { S: now.toISOString() } },
            ...(start ? { ExclusiveStartKey: start } : {}),
          }),
        );
        for (const item of page.Items ?? []) {
          const proposal = fromItem(item);
          if (proposal) found.push(proposal);
        }
        start = page.LastEvaluatedKey;
      } while (start);
      return found.sort((a, b) => (a.createdAt < b.createdAt ? -1 : a.createdAt > b.createdAt ? 1 : 0));
    },
  };
}
