/**
 * `--format html`: one self-contained page (inline CSS and script, nothing
 * fetched) to read a replay in a browser. Violations most severe first, each
 * expandable to its plan as API calls and AWS CLI commands, with its undo; a
 * filter box and severity and rule filters that work in the page, also set
 * from the address (`#q=alice&severity=critical,high&rule=sg-open-ingress&expand=1`).
 *
 * Event data is attacker-controlled (a principal or a tag value may hold
 * `<script>`): every value is escaped, and the page's Content-Security-Policy
 * allows only its own style and script, by hash, and no network at all.
 */
import { createHash } from 'node:crypto';
import { awsCliCommand, describeStep } from '../engine/step-text.js';
import type { PlanStep } from '../engine/types.js';
import { checkLines } from '../notify/alert-view.js';
import type { DecisionLine, FormatKit, Formatter, Io, ReplaySummary, Tally } from './format.js';
import { LEGEND } from './format-table.js';
import type { ReplayLine } from './replay.js';

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text or an attribute value, escaped for HTML. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char] ?? char);
}

const STYLE = `
:root { color-scheme: light; --critical: #8b0000; --high: #c0392b; --medium: #b7791f; --low: #2b6cb0; --muted: #5f6b7a; --line: #d9dee5; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1a202c; background: #f7f8fa; }
header, nav, main { max-width: 1280px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 18px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 17px; margin: 26px 0 8px; }
h4 { font-size: 13px; margin: 12px 0 4px; }
.head, .legend, .note { color: var(--muted); margin: 4px 0; }
.counts { display: flex; gap: 8px; list-style: none; padding: 0; margin: 10px 0; flex-wrap: wrap; }
.counts li { padding: 3px 10px; border-radius: 12px; background: #fff; border: 1px solid var(--line); }
nav { position: sticky; top: 0; background: #f7f8fa; padding-top: 10px; padding-bottom: 10px; border-bottom: 1px solid var(--line); display: flex; gap: 14px; align-items: center; flex-wrap: wrap; z-index: 1; }
nav input[type=search] { flex: 1 1 320px; min-width: 260px; padding: 6px 10px; font: inherit; border: 1px solid #b8c0cc; border-radius: 6px; }
nav fieldset { border: 0; padding: 0; margin: 0; display: flex; gap: 10px; }
nav select, nav button { font: inherit; padding: 5px 8px; }
#shown { color: var(--muted); }
.sev { display: inline-block; min-width: 68px; text-align: center; font-weight: 600; font-size: 12px; padding: 1px 6px; border-radius: 4px; color: #fff; background: var(--muted); }
.sev.critical { background: var(--critical); } .sev.high { background: var(--high); } .sev.medium { background: var(--medium); } .sev.low { background: var(--low); }
details.violation { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: 6px 0; }
details.violation > summary { display: grid; grid-template-columns: 84px minmax(160px, 1.1fr) minmax(140px, 1.2fr) minmax(140px, 1fr) 150px 110px; gap: 10px; padding: 8px 12px; cursor: pointer; align-items: baseline; }
details.violation > summary > span { overflow-wrap: anywhere; }
.colhead { display: grid; grid-template-columns: 84px minmax(160px, 1.1fr) minmax(140px, 1.2fr) minmax(140px, 1fr) 150px 110px; gap: 10px; padding: 4px 13px 4px 26px; font-size: 12px; font-weight: 600; color: var(--muted); }
.body { padding: 4px 16px 14px 26px; border-top: 1px solid var(--line); }
.body dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 8px 0; }
.body dt { color: var(--muted); } .body dd { margin: 0; overflow-wrap: anywhere; }
code, pre { font: 12.5px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; overflow-wrap: anywhere; }
code.api { display: block; white-space: pre-wrap; }
main { overflow-x: hidden; }
pre { background: #f1f3f6; border: 1px solid var(--line); border-radius: 4px; padding: 6px 8px; white-space: pre-wrap; overflow-wrap: anywhere; margin: 4px 0; }
ol.steps > li { margin-bottom: 10px; }
.why, .check { margin: 2px 0; color: var(--muted); }
.undo { margin: 6px 0 0 12px; padding-left: 10px; border-left: 3px solid var(--line); }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; overflow-wrap: anywhere; }
th { font-size: 12px; color: var(--muted); }
[hidden] { display: none !important; }
`;

const SCRIPT = `
(() => {
  const q = document.getElementById('q');
  const rule = document.getElementById('rule');
  const boxes = Array.from(document.querySelectorAll('input[name=severity]'));
  const shown = document.getElementById('shown');
  const items = Array.from(document.querySelectorAll('[data-severity]'));
  const violations = items.filter((item) => item.classList.contains('violation'));
  const known = new Set(boxes.map((box) => box.value));
  const texts = new Map(items.map((item) => [item, item.textContent.toLowerCase()]));
  function apply() {
    const words = q.value.toLowerCase().split(/\\s+/).filter(Boolean);
    const severities = new Set(boxes.filter((box) => box.checked).map((box) => box.value));
    let count = 0;
    for (const item of items) {
      const severity = item.getAttribute('data-severity');
      const ok = (!known.has(severity) || severities.has(severity)) && (!rule.value || item.getAttribute('data-rule') === rule.value) && words.every((word) => texts.get(item).includes(word));
      item.hidden = !ok;
      if (ok && item.classList.contains('violation')) count += 1;
    }
    shown.textContent = count + ' of ' + violations.length + ' violations shown';
  }
  function save() {
    const params = new URLSearchParams();
    if (q.value) params.set('q', q.value);
    if (rule.value) params.set('rule', rule.value);
    if (boxes.some((box) => !box.checked)) params.set('severity', boxes.filter((box) => box.checked).map((box) => box.value).join(','));
    history.replaceState(null, '', params.toString() ? '#' + params.toString() : location.pathname + location.search);
  }
  function load() {
    const params = new URLSearchParams(location.hash.slice(1));
    q.value = params.get('q') || '';
    const wanted = params.get('rule');
    rule.value = wanted && Array.from(rule.options).some((option) => option.value === wanted) ? wanted : '';
    const severity = params.get('severity');
    for (const box of boxes) box.checked = severity === null || severity.split(',').includes(box.value);
    if (params.has('expand')) for (const item of violations) item.open = true;
    apply();
  }
  q.addEventListener('input', () => { apply(); save(); });
  rule.addEventListener('change', () => { apply(); save(); });
  for (const box of boxes) box.addEventListener('change', () => { apply(); save(); });
  const expand = document.getElementById('expand');
  expand.addEventListener('click', () => {
    const open = !violations.some((item) => item.open);
    for (const item of violations) if (!item.hidden) item.open = open;
  });
  window.addEventListener('hashchange', load);
  load();
})();
`;

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text).digest('base64')}'`;

/** Only the page's own style and script run; nothing is fetched, no form is sent. */
const CSP = `default-src 'none'; style-src ${sha256(STYLE)}; script-src ${sha256(SCRIPT)}; img-src 'none'; base-uri 'none'; form-action 'none'`;

function stepLabel(line: DecisionLine): string {
  switch (line.outcome) {
    case 'would-apply':
      return 'Would apply: the deployed bot makes these calls itself';
    case 'would-propose':
      return `Proposed (mode ${line.mode}): sent in the alert for a person to review and run`;
    default:
      return `Would fix it (mode ${line.mode}): the alert reports the problem only`;
  }
}

function stepItem(step: PlanStep, region: string): string {
  const undo = step.undo
    ? `<div class="undo"><h4>Undo</h4><code>${escapeHtml(describeStep(step.undo))}</code><pre class="cli">${escapeHtml(awsCliCommand(step.undo, region))}</pre></div>`
    : '';
  return [
    `<li><code class="api">${escapeHtml(describeStep(step))}</code>`,
    `<p class="why">${escapeHtml(step.reason)}</p>`,
    `<pre class="cli">${escapeHtml(awsCliCommand(step, region))}</pre>`,
    ...checkLines(step).map((check) => `<p class="check">${escapeHtml(check)}</p>`),
    `${undo}</li>`,
  ].join('');
}

function steps(plan: readonly PlanStep[], label: string, region: string): string {
  if (plan.length === 0) return '';
  return `<h4>${escapeHtml(label)}</h4><ol class="steps">${plan.map((step) => stepItem(step, region)).join('')}</ol>`;
}

function timeText(eventTime: string): string {
  const match = /^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d(?:\.\d+)?)Z$/.exec(eventTime);
  return match ? `${match[1]} ${match[2]} UTC` : eventTime;
}

function violationItem(line: DecisionLine): string {
  const facts: [string, string][] = [
    ['Event', `${line.eventName} (${line.eventSource}), ${line.eventTime}`],
    ['Account, region', `${line.account}, ${line.region}`],
    ['Principal', line.principal],
    ['Resources', line.resources.join(', ') || '-'],
    ['Mode, outcome', `${line.mode}, ${line.outcome}${line.outcomeNote ? ` (${line.outcomeNote})` : ''}`],
    ['Source', line.source],
    ...(line.unavailableFacts ? [['Facts unavailable offline', line.unavailableFacts.join(', ')] as [string, string]] : []),
  ];
  const findings = line.findings && line.findings.length > 0 ? `<ul class="findings">${line.findings.map((finding) => `<li>${escapeHtml(finding.severity)}: ${escapeHtml(finding.message)}</li>`).join('')}</ul>` : '';
  return [
    `<details class="violation" data-severity="${escapeHtml(line.severity)}" data-rule="${escapeHtml(line.rule)}">`,
    `<summary><span class="sev ${escapeHtml(line.severity)}">${escapeHtml(line.severity)}</span><span class="rule">${escapeHtml(line.rule)}</span>`,
    `<span class="resource">${escapeHtml(line.resources.join(', ') || '-')}</span><span class="principal">${escapeHtml(line.principal)}</span>`,
    `<span class="time">${escapeHtml(timeText(line.eventTime))}</span><span class="outcome">${escapeHtml(line.outcome)}</span></summary>`,
    `<div class="body"><p class="summary">${escapeHtml(line.summary)}</p>${findings}`,
    `<dl>${facts.map(([term, value]) => `<dt>${escapeHtml(term)}</dt><dd>${escapeHtml(value)}</dd>`).join('')}</dl>`,
    steps(line.plan, stepLabel(line), line.region),
    steps(line.proposal ?? [], 'Proposed for review (never applied automatically)', line.region),
    '</div></details>',
  ].join('\n');
}

function exemptRow(line: DecisionLine): string {
  const cells = [line.rule, line.eventName, timeText(line.eventTime), line.principal, line.resources.join(', ') || '-', line.summary, line.source];
  return `<tr class="exempt" data-severity="${escapeHtml(line.severity)}" data-rule="${escapeHtml(line.rule)}"><td><span class="sev ${escapeHtml(line.severity)}">${escapeHtml(line.severity)}</span></td>${cells.map((cell) => `<td>${escapeHtml(cell)}</td>`).join('')}</tr>`;
}

function otherRow(line: ReplayLine): string {
  if (line.verdict === 'invalid') return `<tr><td>invalid</td><td></td><td></td><td>${escapeHtml(line.source)}</td><td>${escapeHtml(line.error)}</td></tr>`;
  const why = line.outcome === 'uninspected' ? `UNINSPECTED: ${line.summary}` : line.summary;
  return `<tr><td>${escapeHtml(line.verdict)}</td><td>${escapeHtml(line.rule)}</td><td>${escapeHtml(line.eventName)}</td><td>${escapeHtml(line.source)}</td><td>${escapeHtml(why)}</td></tr>`;
}

/** How many compliant, skipped and invalid decisions the page lists; violations and exempt decisions are never capped. */
export const HTML_OTHER_LIMIT = 50;

function head(summary: ReplaySummary, counts: Tally, kit: FormatKit): string {
  const violations = counts.bySeverity['violation'] ?? {};
  const total = summary.byVerdict['violation'] ?? 0;
  return [
    '<!doctype html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="${escapeHtml(CSP)}">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<title>Remediation dry run</title>',
    `<style>${STYLE}</style>`,
    '</head><body>',
    '<header><h1>Remediation dry run</h1>',
    `<p class="head">${escapeHtml(kit.head(summary))}. Nothing was executed.</p>`,
    `<ul class="counts"><li><strong>${total}</strong> violation(s)</li>${kit.severities.map((severity) => `<li><span class="sev ${severity}">${severity}</span> ${violations[severity] ?? 0}</li>`).join('')}${['exempt', 'skipped', 'compliant'].map((verdict) => `<li>${summary.byVerdict[verdict] ?? 0} ${verdict}</li>`).join('')}<li>${summary.invalid} invalid</li></ul>`,
    `<p class="legend">${escapeHtml(LEGEND)}</p></header>`,
  ].join('\n');
}

function filters(summary: ReplaySummary, counts: Tally, kit: FormatKit): string {
  const violations = counts.bySeverity['violation'] ?? {};
  const rules = Object.entries(summary.byRule)
    .filter(([, ruleCounts]) => (ruleCounts['violation'] ?? 0) + (ruleCounts['exempt'] ?? 0) > 0)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return [
    '<nav id="filters">',
    '<input type="search" id="q" placeholder="Filter: rule, principal, resource, account, any text" aria-label="Filter">',
    `<fieldset aria-label="Severity">${kit.severities.map((severity) => `<label><input type="checkbox" name="severity" value="${severity}" checked> ${severity} (${violations[severity] ?? 0})</label>`).join('')}</fieldset>`,
    `<select id="rule" aria-label="Rule"><option value="">All rules</option>${rules.map(([rule, ruleCounts]) => `<option value="${escapeHtml(rule)}">${escapeHtml(rule)} (${ruleCounts['violation'] ?? 0})</option>`).join('')}</select>`,
    '<button type="button" id="expand">Expand / collapse all</button>',
    `<output id="shown">${summary.byVerdict['violation'] ?? 0} violations</output>`,
    '</nav>',
  ].join('\n');
}

/** The HTML formatter; writes the page at the end, once the violations are sorted. */
export function htmlFormatter(io: Io, kit: FormatKit): Formatter {
  const { onlyViolations } = kit.options;
  const report = kit.report(HTML_OTHER_LIMIT, otherRow);
  const { counts, violations, exempt, others } = report;
  const overflow = (spilled: number, size: number) =>
    spilled > 0 ? `<p class="note">More than ${size - spilled}: the first ${size - spilled} are sorted by severity then time; the other ${spilled} follow within their severity in input order.</p>` : '';
  return {
    lines: (lines) => report.add(lines),
    end(summary) {
      try {
        io.out(head(summary, counts, kit));
        io.out(filters(summary, counts, kit));
        io.out('<main>');
        io.out(`<section id="violations"><h2>Violations (${violations.size}), most severe first</h2>${overflow(violations.spilled, violations.size)}`);
        if (violations.size === 0) io.out('<p>No violations.</p>');
        else io.out('<div class="colhead"><span>Severity</span><span>Rule</span><span>Resource</span><span>Principal</span><span>Time</span><span>Outcome</span></div>');
        for (const line of violations.drain()) io.out(violationItem(line));
        io.out('</section>');
        if (exempt.size > 0) {
          io.out(`<section id="exempt"><h2>Exempt decisions (${exempt.size}), most severe first</h2><p class="note">Every exempt decision is listed: each is a violation the bot was told to leave alone.</p>${overflow(exempt.spilled, exempt.size)}`);
          io.out('<table><thead><tr><th>Severity</th><th>Rule</th><th>Event</th><th>Time</th><th>Principal</th><th>Resources</th><th>Why</th><th>Source</th></tr></thead><tbody>');
          for (const line of exempt.drain()) io.out(exemptRow(line));
          io.out('</tbody></table></section>');
        }
        if (report.othersTotal > 0) {
          io.out(`<section id="others"><h2>Other decisions${report.othersTotal > others.length ? ` (first ${others.length} of ${report.othersTotal}; every one is counted above, and --format jsonl lists them all)` : ` (${report.othersTotal})`}</h2>`);
          io.out(`<table><thead><tr><th>Verdict</th><th>Rule</th><th>Event</th><th>Source</th><th>Why</th></tr></thead><tbody>\n${others.join('\n')}\n</tbody></table></section>`);
        }
        if (onlyViolations) io.out('<p class="note">Exempt, skipped and compliant decisions are counted above, not listed (--only violations).</p>');
        io.out(`</main>\n<script>${SCRIPT}</script>\n</body></html>`);
      } finally {
        report.close();
      }
    },
  };
}
