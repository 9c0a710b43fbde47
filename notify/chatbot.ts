/**
 * The alert as an AWS Chatbot (Amazon Q Developer in chat applications)
 * custom notification. Chatbot subscribes to the topic with protocol `https`
 * and drops messages it does not recognise, so this is what the topic
 * publishes under the `https` key: a channel in Slack or Microsoft Teams
 * mapped to the topic then shows the alert with no code of ours in between.
 *
 * `client-markdown` is rendered in each chat tool's own markdown, so the text
 * keeps to what Slack and Teams share: plain lines, code fences and bare URLs.
 */
import type { AlertMessage } from './alert-message.js';
import { alertView, type ViewSection } from './alert-view.js';
import { clip, clipLine, TRUNCATION_MARKER } from './slack.js';

interface ChatbotNotification {
  readonly version: '1.0';
  readonly source: 'custom';
  readonly id: string;
  readonly content: {
    readonly textType: 'client-markdown';
    readonly title: string;
    readonly description: string;
    readonly nextSteps: readonly string[];
    readonly keywords: readonly string[];
  };
  readonly metadata: {
    readonly summary: string;
    readonly eventType: string;
    readonly relatedResources: readonly string[];
    readonly additionalContext: Readonly<Record<string, string>>;
  };
}

/** Conservative caps: the schema documents no limits, and the text ends up in a chat message. */
const TITLE_MAX = 150;
const DESCRIPTION_MAX = 3500;
const CODE_MAX = 1200;
/** What the summary, facts and rationale keep at least when the code sections need the room. */
const HEAD_MIN = 600;

const SEVERITY_EMOJI = { critical: ':rotating_light:', high: ':red_circle:', medium: ':large_orange_circle:', low: ':large_blue_circle:' } as const;

/** Whole lines up to `CODE_MAX` characters, then a line saying how many were cut; a line too long on its own is cut (a cut command commented out). */
function code(part: ViewSection): string[] {
  const marker = (shown: number) => `${TRUNCATION_MARKER} ${part.lines.length - shown} more line(s) not shown`;
  const fits = (lines: readonly string[]) => lines.join('\n').length <= CODE_MAX;
  let kept = [...part.lines];
  if (!fits(kept)) {
    while (kept.length > 0 && !fits([...kept, marker(kept.length)])) kept.pop();
    if (kept.length === 0) kept = [clipLine(part.lines[0] ?? '', CODE_MAX - marker(1).length - 1)];
    if (kept.length < part.lines.length) kept.push(marker(kept.length));
  }
  return ['', `${part.heading}:`, '```', ...kept, '```'];
}

/** Cuts the description to `max` characters without leaving a code fence open. */
function clipFenced(text: string, max: number): string {
  if (text.length <= max) return text;
  const cut = clip(text, max - '\n```'.length);
  return (cut.match(/^```$/gm) ?? []).length % 2 === 1 ? `${cut}\n\`\`\`` : cut;
}

export function renderChatbot(message: AlertMessage): ChatbotNotification {
  const view = alertView(message);
  const { decision } = message;
  const head = [
    view.summary,
    view.status,
    ...(view.note ? [`Note: ${view.note}`] : []),
    '',
    ...view.facts.map((fact) => `${fact.label}: ${fact.value}`),
    '',
    `Why this matters: ${view.rationale}`,
    ...view.findings.map((finding) => `- ${finding}`),
  ].join('\n');
  const tail = [
    ...(view.plan ? code(view.plan) : []),
    ...(view.proposal ? code(view.proposal) : []),
    ...(view.undo ? code(view.undo) : view.undoNote ? ['', `How to undo: ${view.undoNote}`] : []),
    '',
    view.footer,
  ].join('\n');
  // Long prose gives way first, so the calls and their commands stay in view.
  const room = Math.max(HEAD_MIN, DESCRIPTION_MAX - tail.length - 1);
  const description = clipFenced(`${clip(head, room)}\n${tail}`, DESCRIPTION_MAX);
  return {
    version: '1.0',
    source: 'custom',
    id: `${decision.eventId}:${decision.rule}`,
    content: {
      textType: 'client-markdown',
      title: clip(`${SEVERITY_EMOJI[view.severity]} ${view.title}`, TITLE_MAX),
      description: clipFenced(description, DESCRIPTION_MAX),
      nextSteps: view.links.map((link) => `${link.label}: ${link.url}`),
      keywords: [decision.severity, message.outcome, decision.rule],
    },
    metadata: {
      summary: view.subject,
      eventType: `remediation-bot:${message.outcome}`,
      relatedResources: [...(decision.verdict.resources ?? [])],
      additionalContext: {
        account: decision.account,
        region: decision.region,
        rule: decision.rule,
        severity: decision.severity,
        outcome: message.outcome,
        mode: decision.mode,
        eventId: decision.eventId,
      },
    },
  };
}
