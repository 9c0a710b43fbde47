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
  | { readonly type: 'divider' };

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

/** A heading and a code block, cut inside the block so the closing fence survives. */
function codeSection(part: ViewSection): SlackBlock {
  const heading = `*${escapeMrkdwn(part.heading)}*\n`;
  const open = '```\n';
  const close = '\n```';
  const room = SLACK_LIMITS.sectionText - heading.length - open.length - close.length;
  return { type: 'section', text: { type: 'mrkdwn', text: `${heading}${open}${clip(escapeMrkdwn(part.lines.join('\n')), room)}${close}` } };
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
  if (view.plan) blocks.push(codeSection(view.plan));
  if (view.proposal) blocks.push(codeSection(view.proposal));
  if (view.undo) blocks.push(codeSection(view.undo));
  else if (view.undoNote) blocks.push(section(`*How to undo*\n${escapeMrkdwn(view.undoNote)}`));
  blocks.push(section(view.links.map((l) => `:link: ${link(l.url, l.label)}`).join('\n')));
  blocks.push({ type: 'divider' });
  blocks.push({ type: 'context', elements: [mrkdwn(escapeMrkdwn(view.footer), SLACK_LIMITS.contextText)] });
  return { text: clip(escapeMrkdwn(view.subject), SLACK_LIMITS.fallbackText), blocks: limitBlocks(blocks) };
}

/** Keeps at most `SLACK_LIMITS.blocks` blocks; the last one kept says that more were cut. */
export function limitBlocks(blocks: readonly SlackBlock[]): SlackBlock[] {
  if (blocks.length <= SLACK_LIMITS.blocks) return [...blocks];
  const kept = blocks.slice(0, SLACK_LIMITS.blocks - 1);
  return [...kept, { type: 'context', elements: [{ type: 'mrkdwn', text: `${TRUNCATION_MARKER} ${blocks.length - kept.length} more block(s) not shown` }] }];
}
