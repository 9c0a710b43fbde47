/**
 * The Slack rendering of an alert: a Block Kit message (never legacy
 * attachments) that stays inside Slack's documented limits. Text over a limit
 * is cut with a visible `…[truncated]` marker, never silently.
 */
import type { Severity } from '../engine/types.js';
import type { AlertMessage } from './alert-message.js';
import { alertView, type AlertView, type ViewSection } from './alert-view.js';

/** Slack's limits for the blocks used here (Block Kit reference: header, section, context). */
export const SLACK_LIMITS = {
  headerText: 150,
  sectionText: 3000,
  sectionFields: 10,
  fieldText: 2000,
  contextElements: 10,
  contextText: 3000,
  blocks: 50,
  /** Slack truncates a message's `text` past 40,000 characters; a notification fallback needs far less. */
  fallbackText: 3000,
} as const;

export const TRUNCATION_MARKER = '…[truncated]';

export interface PlainText {
  readonly type: 'plain_text';
  readonly text: string;
  readonly emoji: true;
}

export interface Mrkdwn {
  readonly type: 'mrkdwn';
  readonly text: string;
}

export type SlackBlock =
  | { readonly type: 'header'; readonly text: PlainText }
  | { readonly type: 'section'; readonly text: Mrkdwn }
  | { readonly type: 'section'; readonly fields: readonly Mrkdwn[] }
  | { readonly type: 'context'; readonly elements: readonly Mrkdwn[] }
  | { readonly type: 'actions'; readonly block_id: string; readonly elements: readonly SlackButton[] }
  | { readonly type: 'divider' };

/** A button of an actions block; its value is only the proposal's id. */
export interface SlackButton {
  readonly type: 'button';
  readonly action_id: (typeof APPROVAL_ACTIONS)[keyof typeof APPROVAL_ACTIONS];
  readonly text: PlainText;
  readonly value: string;
  readonly style?: 'primary';
  readonly confirm?: { readonly title: PlainText; readonly text: Mrkdwn; readonly confirm: PlainText; readonly deny: PlainText };
}

/** The `action_id`s the approval function answers to (`notify/slack-approvals.ts`). */
export const APPROVAL_ACTIONS = { approve: 'remediation-approve', dismiss: 'remediation-dismiss' } as const;

const plain = (text: string): PlainText => ({ type: 'plain_text', text, emoji: true });

/** Approve and Dismiss for a stored proposal. Approve asks for a confirmation first: it changes the account. */
function approvalBlock(proposal: NonNullable<AlertMessage['proposal']>): SlackBlock {
  return {
    type: 'actions',
    block_id: 'remediation-approval',
    elements: [
      {
        type: 'button',
        action_id: APPROVAL_ACTIONS.approve,
        text: plain('Approve'),
        style: 'primary',
        value: proposal.id,
        confirm: {
          title: plain('Apply this plan?'),
          text: { type: 'mrkdwn', text: `The bot runs exactly the plan above, once, after reading the present state before each write. You are recorded as the approver. Open until ${escapeMrkdwn(proposal.expiresAt)}.` },
          confirm: plain('Apply'),
          deny: plain('Cancel'),
        },
      },
      { type: 'button', action_id: APPROVAL_ACTIONS.dismiss, text: plain('Dismiss'), value: proposal.id },
    ],
  };
}

export interface SlackMessage {
  /** Shown in notifications and by clients that cannot render blocks. */
  readonly text: string;
  readonly blocks: readonly SlackBlock[];
}

const SEVERITY_EMOJI: Readonly<Record<Severity, string>> = {
  critical: ':rotating_light:',
  high: ':red_circle:',
  medium: ':large_orange_circle:',
  low: ':large_blue_circle:',
};

/** Slack's mrkdwn control characters; every dynamic value is escaped before it is placed in mrkdwn. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Cuts `text` to at most `max` characters (UTF-16 units, as Slack counts),
 * ending with the marker. Never splits a surrogate pair or an `&amp;` entity.
 */
export function clip(text: string, max: number): string {
  if (text.length <= max) return text;
  let head = text.slice(0, Math.max(0, max - TRUNCATION_MARKER.length));
  if (/[\uD800-\uDBFF]$/.test(head)) head = head.slice(0, -1);
  head = head.replace(/&[a-z]{0,4}$/, '');
  return `${head}${TRUNCATION_MARKER}`;
}

function mrkdwn(text: string, max: number = SLACK_LIMITS.sectionText): Mrkdwn {
  return { type: 'mrkdwn', text: clip(text, max) };
}

function section(text: string): SlackBlock {
  return { type: 'section', text: mrkdwn(text) };
}

/** A long code section (a plan with its AWS CLI commands) spans at most this many section blocks. */
export const CODE_BLOCKS_PER_SECTION = 4;

const FENCE_OPEN = '```\n';
const FENCE_CLOSE = '\n```';

/**
 * A line cut to `max` characters. A cut AWS CLI command is commented out, so
 * that pasting what is left can never run half a command.
 */
export function clipLine(line: string, max: number): string {
  if (line.length <= max) return line;
  return clip(line.replace(/^(\s*)aws /, '$1# aws '), max);
}

/** Splits lines into chunks of at most `room(i)` characters each (joined by newlines): whole lines, except a single line longer than its chunk, which is cut. */
function chunkLines(lines: readonly string[], room: (index: number) => number): string[][] {
  const chunks: string[][] = [];
  let index = 0;
  while (index < lines.length) {
    const max = room(chunks.length);
    const chunk: string[] = [];
    let used = 0;
    for (; index < lines.length; index += 1) {
      const line = lines[index] ?? '';
      const cost = (chunk.length > 0 ? 1 : 0) + line.length;
      if (used + cost > max) break;
      chunk.push(line);
      used += cost;
    }
    if (chunk.length === 0) {
      chunk.push(clipLine(lines[index] ?? '', max));
      index += 1;
    }
    chunks.push(chunk);
  }
  return chunks;
}

/**
 * A heading and its lines as code blocks: split between whole lines over up
 * to {@link CODE_BLOCKS_PER_SECTION} section blocks, each with both fences.
 * Past that, the last block ends with a marker line saying how many lines
 * were cut; a single line too long for a block is cut with the marker.
 */
function codeSections(part: ViewSection): SlackBlock[] {
  const headings = [`*${escapeMrkdwn(part.heading)}*\n`, `*${escapeMrkdwn(part.heading)} (continued)*\n`] as const;
  const heading = (index: number) => (index === 0 ? headings[0] : headings[1]);
  const room = (index: number) => SLACK_LIMITS.sectionText - heading(index).length - FENCE_OPEN.length - FENCE_CLOSE.length;
  const lines = part.lines.map(escapeMrkdwn);
  let chunks = lines.length > 0 ? chunkLines(lines, room) : [[]];
  if (chunks.length > CODE_BLOCKS_PER_SECTION) {
    chunks = chunks.slice(0, CODE_BLOCKS_PER_SECTION);
    const last = chunks.at(-1) ?? [];
    const shown = () => chunks.reduce((total, chunk) => total + chunk.length, 0);
    const marker = () => `${TRUNCATION_MARKER} ${lines.length - shown()} more line(s) not shown`;
    while (last.length > 0 && [...last, marker()].join('\n').length > room(chunks.length - 1)) last.pop();
    last.push(marker());
  }
  return chunks.map((chunk, index) => ({ type: 'section', text: { type: 'mrkdwn', text: `${heading(index)}${FENCE_OPEN}${chunk.join('\n')}${FENCE_CLOSE}` } }));
}

function link(url: string, label: string): string {
  // Inside <url|label>, only the label's own markup characters need escaping; the URL is ours and already encoded.
  return `<${url}|${escapeMrkdwn(label)}>`;
}

function headerBlock(view: AlertView): SlackBlock {
  return { type: 'header', text: { type: 'plain_text', text: clip(`${SEVERITY_EMOJI[view.severity]} ${view.title}`, SLACK_LIMITS.headerText), emoji: true } };
}

function factsBlock(view: AlertView): SlackBlock {
  const fields = view.facts.slice(0, SLACK_LIMITS.sectionFields).map((fact) => {
    const label = `*${escapeMrkdwn(fact.label)}*\n`;
    const room = SLACK_LIMITS.fieldText - label.length;
    // A link cannot be cut without breaking its markup: past the limit the value is shown as text.
    const linked = fact.url ? link(fact.url, fact.value) : undefined;
    const value = linked && linked.length <= room ? linked : clip(escapeMrkdwn(fact.value), room);
    return { type: 'mrkdwn', text: `${label}${value}` } as const;
  });
  return { type: 'section', fields };
}

/** Builds the Block Kit message for a published alert. */
export function buildSlackMessage(message: AlertMessage): SlackMessage {
  const view = alertView(message);
  const blocks: SlackBlock[] = [headerBlock(view)];
  blocks.push(section([`*${escapeMrkdwn(view.summary)}*`, escapeMrkdwn(view.status), ...(view.note ? [`_Note:_ ${escapeMrkdwn(view.note)}`] : [])].join('\n')));
  blocks.push(factsBlock(view));
  blocks.push(section(['*Why this matters*', escapeMrkdwn(view.rationale), ...view.findings.map((finding) => `• ${escapeMrkdwn(finding)}`)].join('\n')));
  if (view.plan) blocks.push(...codeSections(view.plan));
  if (view.proposal) blocks.push(...codeSections(view.proposal));
  if (view.undo) blocks.push(...codeSections(view.undo));
  else if (view.undoNote) blocks.push(section(`*How to undo*\n${escapeMrkdwn(view.undoNote)}`));
  blocks.push(section(view.links.map((l) => `:link: ${link(l.url, l.label)}`).join('\n')));
  // The buttons and the footer are kept whatever the body's length.
  const tail: SlackBlock[] = [
    ...(message.proposal && message.outcome === 'proposed' ? [approvalBlock(message.proposal)] : []),
    { type: 'divider' },
    { type: 'context', elements: [mrkdwn(escapeMrkdwn(view.footer), SLACK_LIMITS.contextText)] },
  ];
  return { text: clip(escapeMrkdwn(view.subject), SLACK_LIMITS.fallbackText), blocks: [...limitBlocks(blocks, SLACK_LIMITS.blocks - tail.length), ...tail] };
}

/** Keeps at most `max` blocks (Slack's limit by default); the last one kept says that more were cut. */
export function limitBlocks(blocks: readonly SlackBlock[], max: number = SLACK_LIMITS.blocks): SlackBlock[] {
  if (blocks.length <= max) return [...blocks];
  const kept = blocks.slice(0, max - 1);
  return [...kept, { type: 'context', elements: [{ type: 'mrkdwn', text: `${TRUNCATION_MARKER} ${blocks.length - kept.length} more block(s) not shown` }] }];
}
