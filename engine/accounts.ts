/**
 * Acting in another account of the organisation: the hub's function for a
 * family reads and writes in a member account only as that account's member
 * role for the family (`/remediation-bot/remediation-bot-member-<family>`,
 * created by the member template), in the event's Region, in a session named
 * after the event, so that CloudTrail in the member account shows which event
 * caused each call. The engine asks for a gateway per event (`lambda.ts`);
 * where the credentials come from is the runtime's affair (`handlers/`).
 */
import type { AwsGateway } from './aws.js';
import { StepFault } from './errors.js';

export const MEMBER_ROLE_PATH = '/remediation-bot/';

/** An IAM Identity Center access portal, as the Identity Center console shows it (`consoleSignIn` in the config). */
export const ACCESS_PORTAL_URL = /^https:\/\/[a-z0-9][a-z0-9-]{0,62}\.awsapps\.(com|cn)\/start\/?$/;
/** A permission set's name, as the access portal takes it in a shortcut link. */
export const PERMISSION_SET_NAME = /^[\w+=,.@-]{1,32}$/;

export function memberRoleName(family: string): string {
  return `remediation-bot-member-${family}`;
}

export function memberRoleArn(partition: string, account: string, family: string): string {
  return `arn:${partition}:iam::${account}:role${MEMBER_ROLE_PATH}${memberRoleName(family)}`;
}

/**
 * The role `remediate undo` assumes in a member account (the member
 * template's `--undo-principals`). Not on the bot's path: people assume it,
 * never the bot, and `bot-role-impostor` watches that path.
 */
export const UNDO_ROLE_NAME = 'remediation-bot-undo';

/** The session name STS accepts (`[\w+=,.@-]`, 2 to 64 characters), from the event id. */
export function memberSessionName(eventId: string): string {
  return sessionName('remediation-bot-', eventId);
}

/** A session name STS accepts (`[\w+=,.@-]`, at most 64 characters): `prefix` then `text`, any other character as `-`. */
export function sessionName(prefix: string, text: string): string {
  return `${prefix}${text.replace(/[^\w+=,.@-]/g, '-')}`.slice(0, 64);
}

/** The partition an ARN names (`aws`, `aws-cn`, `aws-us-gov`); `aws` when it names none. */
export function partitionOf(arn: string | undefined): string {
  return /^arn:(aws(?:-[a-z]+)*):/.exec(arn ?? '')?.[1] ?? 'aws';
}

export interface MemberTarget {
  readonly account: string;
  readonly region: string;
  readonly eventId: string;
}

export interface MemberAccess {
  /** The gateway for an event in a member account; never throws: a role that cannot be assumed gives a gateway whose every call fails, saying why. */
  gatewayFor(target: MemberTarget): Promise<AwsGateway>;
}

/**
 * The member role could not be assumed: the account is not enrolled (no
 * stack instance of the member StackSet), or the role's trust does not name
 * this function's role. An AWS client fault in shape, so the plan fails and
 * the alert says why, once, without Lambda retrying a refusal.
 */
export class MemberRoleError extends StepFault {
  override readonly name = 'MemberRoleUnavailable';
  readonly $fault = 'client';
  readonly $metadata = {};
  constructor(
    message: string,
    /** What a person does about it: shown with every read and step it stopped. */
    readonly hint: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** A gateway for an account the bot could not enter: every call fails with the same error, so each lookup and step reports it. */
export function unreachableGateway(error: MemberRoleError): AwsGateway {
  return {
    call: () => Promise.reject(error),
    wait: () => Promise.reject(error),
  };
}
