/** What the IAM rules' tests share: the account, policy documents, facts as lookups give them, events with changed requests, and the reads the plans carry. */
import type { CloudTrailEvent } from '../../engine/event.js';
import type { Fact, StateCheck, Verdict } from '../../engine/types.js';
import { loadEvent } from './fixtures.js';

export const ACCOUNT = '111122223333';
export const NO_SUCH_ENTITY = ['NoSuchEntity', 'NoSuchEntityException'];
export const ADMIN_DOCUMENT = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}';
export const SCOPED_DOCUMENT = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"arn:aws:s3:::example-bucket/*"}]}';
export const BOT_ROLE = `arn:aws:iam::${ACCOUNT}:role/remediation-bot/remediation-bot-prod-us-east-1-iam`;
export const ok = (value: unknown): Fact => ({ status: 'ok', value });
export const gone: Fact = { status: 'ok', value: null };
export const throttled: Fact = { status: 'unavailable', reason: 'GetRole failed: Throttling' };

export function role(name: string, options: { path?: string; tags?: Record<string, string>; trustPolicy?: string } = {}): Fact {
  const path = options.path ?? '/';
  return ok({ arn: `arn:aws:iam::${ACCOUNT}:role${path}${name}`, path, tags: options.tags ?? {}, ...(options.trustPolicy !== undefined && { trustPolicy: options.trustPolicy }) });
}

export function request(event: CloudTrailEvent, key: string): string {
  const value = event.detail.requestParameters?.[key];
  if (typeof value !== 'string') throw new Error(`fixture has no string requestParameters.${key}`);
  return value;
}

/** The document as JSON text without the whitespace between tokens, computed independently of the rules. */
export function compact(text: string): string {
  return JSON.stringify(JSON.parse(text));
}

export function withRequest(name: string, changes: Record<string, unknown>): CloudTrailEvent {
  const event = loadEvent(name);
  event.detail.requestParameters = { ...event.detail.requestParameters, ...changes };
  return event;
}

/** The request parameters as CloudTrail records them when they exceed its field size (Permiso; Elastic rule "AWS CloudTrail Log Evasion"). */
export function omittedRequest(name: string): CloudTrailEvent {
  const event = loadEvent(name);
  event.detail.requestParameters = { reason: 'requestParameters too large', omitted: true, originalSize: 131059 };
  return event;
}

export function violation(verdict: Verdict) {
  if (verdict.kind !== 'violation') throw new Error(`expected a violation, got ${verdict.kind}: ${verdict.kind === 'compliant' ? verdict.summary : verdict.reason}`);
  return verdict;
}

export function attachmentCheck(kind: 'Role' | 'User' | 'Group', name: string, policyArn: string, goal: 'attached' | 'detached'): StateCheck {
  const policy = policyArn.split(':policy/')[1];
  const who = `${kind.toLowerCase()} ${name}`;
  return {
    service: 'iam',
    operation: `ListAttached${kind}Policies`,
    input: { [`${kind}Name`]: name, MaxItems: 100 },
    probe: `${kind.toLowerCase()}Attachments`,
    expect: { identity: who, policyArn, goal },
    description: goal === 'detached' ? `${policy} is still attached to ${who}` : `${policy} is attached to ${who}`,
  };
}

export function inlineCheck(kind: 'Role' | 'User' | 'Group', name: string, policyName: string, document: string): StateCheck {
  return {
    service: 'iam',
    operation: `Get${kind}Policy`,
    input: { [`${kind}Name`]: name, PolicyName: policyName },
    probe: `${kind.toLowerCase()}InlinePolicy`,
    expect: { identity: `${kind.toLowerCase()} ${name}`, policyName, document },
    description: `inline policy ${policyName} of ${kind.toLowerCase()} ${name} still holds the document the event put`,
  };
}
