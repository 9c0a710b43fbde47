/**
 * The request that asks a family function to approve or dismiss a stored
 * proposal (see `proposal-store.ts`). It carries only the proposal's id, the
 * action and who asked: never a plan. Whoever can invoke the function
 * (`lambda:InvokeFunction`, recorded by CloudTrail) may send it; the function
 * runs only the plan stored under that id, re-checked against the present.
 */
import * as z from 'zod/mini';
import { PROPOSAL_ID } from './proposal-id.js';

/** A Slack user id (`U…` or `W…`). */
export const SLACK_USER_ID = /^[UW][A-Z0-9]{2,20}$/;
/** An approver named by the Slack approval function: `slack:<user id> (<name>)`. */
export const SLACK_APPROVER = /^slack:([UW][A-Z0-9]{2,20})\b/;
/** Where Slack lets an app answer an interaction (`response_url`): the only place an approval's outcome is posted. */
export const RESPONSE_URL = /^https:\/\/hooks\.slack\.com\/[\x21-\x7e]{1,500}$/;

export const ApprovalRequestSchema = z.strictObject({
  approval: z.strictObject({
    proposalId: z.string().check(z.regex(PROPOSAL_ID, 'a proposal id (<family>.<24 letters and digits>)')),
    action: z.enum(['approve', 'dismiss']),
    /** An IAM ARN (the CLI reads it with sts:GetCallerIdentity) or a Slack user. */
    approver: z.string().check(z.minLength(1), z.maxLength(512), z.regex(/^[\x20-\x7e]+$/, 'printable text')),
    /** Slack's `response_url` of the click: the outcome replaces the original message there. */
    responseUrl: z.optional(z.string().check(z.regex(RESPONSE_URL, 'a Slack response_url (https://hooks.slack.com/...)'))),
  }),
});
export type ApprovalRequest = z.infer<typeof ApprovalRequestSchema>['approval'];

/** Whether an invocation's payload is an approval request rather than an EventBridge event (it has the one key `approval`). */
export function looksLikeApproval(raw: unknown): boolean {
  return typeof raw === 'object' && raw !== null && !Array.isArray(raw) && Object.hasOwn(raw, 'approval');
}

export type ApprovalResult =
  | { readonly status: 'refused'; readonly proposalId: string; readonly reason: string }
  | { readonly status: 'dismissed'; readonly proposalId: string; readonly by: string }
  | { readonly status: 'ran'; readonly proposalId: string; readonly by: string; readonly rule: string; readonly outcome: string };
