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
import { clip } from './slack.js';

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

const SEVERITY_EMOJI = { critical: ':rotating_light:', high: ':red_circle:', medium: ':large_orange_circle:', low: ':large_blue_circle:' } as const;

function code(part: ViewSection): string[] {
  return ['', `${part.heading}:`, '```', clip(part.lines.join('\n'), CODE_MAX), '```'];
}

export function renderChatbot(message: AlertMessage): ChatbotNotification {
  const view = alertView(message);
  const { decision } = message;
  const description = [
    view.summary,
    view.status,
    ...(view.note ? [`Note: ${view.note}`] : []),
    '',
    ...view.facts.map((fact) => `${fact.label}: ${fact.value}`),
    '',
    `Why this matters: ${view.rationale}`,
    ...view.findings.map((finding) => `- ${finding}`),
    ...(view.plan ? code(view.plan) : []),
    ...(view.proposal ? code(view.proposal) : []),
    ...(view.undo ? code(view.undo) : view.undoNote ? ['', `How to undo: ${view.undoNote}`] : []),
    '',
    view.footer,
  ].join('\n');
  return {
    version: '1.0',
    source: 'custom',
    id: `${decision.eventId}:${decision.rule}`,
    content: {
      textType: 'client-markdown',
      title: clip(`${SEVERITY_EMOJI[view.severity]} ${view.title}`, TITLE_MAX),
      description: clip(description, DESCRIPTION_MAX),
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
