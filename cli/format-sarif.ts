/**
 * `--format sarif`: SARIF 2.1.0 for code-scanning tools (GitHub code scanning
 * among them). One result per violation: `ruleId` is the rule's id, `level`
 * comes from its severity, and the location is the recorded event's file (and
 * line, for JSON Lines and CloudTrail log files). Written as the violations
 * come, so memory stays bounded.
 */
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { allRules } from '../remediations/registry.js';
import type { DecisionLine, Formatter, Io } from './format.js';

const SARIF_SCHEMA = 'https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json';

/** SARIF has three levels; a blocking finding is an error. */
const LEVELS: Readonly<Record<string, 'error' | 'warning' | 'note'>> = { critical: 'error', high: 'error', medium: 'warning', low: 'note' };

/** GitHub code scanning ranks security results by this 0-10 score (critical is over 9, high 7 to 8.9, medium 4 to 6.9). */
const SECURITY_SEVERITY: Readonly<Record<string, string>> = { critical: '9.5', high: '8.0', medium: '5.5', low: '3.0' };

/** `events/a.json`, `logs/x.json.gz:12`, `logs/x.json.gz:12:Records[3]` → the file and, when given, the line. */
export function sourceLocation(source: string): { readonly uri: string; readonly line?: number } {
  const match = /^(.*?):(\d+)(?::Records\[\d+\])?$/.exec(source);
  const file = match?.[1] ?? source;
  const line = match?.[2] !== undefined ? Number(match[2]) : undefined;
  const uri = isAbsolute(file) ? pathToFileURL(file).href : file.split(/[\\/]/).map(encodeURIComponent).join('/');
  return { uri, ...(line !== undefined && line > 0 ? { line } : {}) };
}

function result(line: DecisionLine): unknown {
  const location = sourceLocation(line.source);
  return {
    ruleId: line.rule,
    level: LEVELS[line.severity] ?? 'warning',
    message: { text: line.outcomeNote ? `${line.summary} (${line.outcomeNote})` : line.summary },
    locations: [
      {
        physicalLocation: {
          artifactLocation: { uri: location.uri },
          ...(location.line !== undefined ? { region: { startLine: location.line } } : {}),
        },
      },
    ],
    partialFingerprints: { eventIdRule: `${line.eventId}/${line.rule}` },
    properties: {
      severity: line.severity,
      eventName: line.eventName,
      eventTime: line.eventTime,
      account: line.account,
      region: line.region,
      principal: line.principal,
      resources: line.resources,
      mode: line.mode,
      outcome: line.outcome,
      plan: line.plan,
      ...(line.proposal ? { proposal: line.proposal } : {}),
    },
  };
}

/** The SARIF formatter: one run of the `remediate` tool, every rule described, one result per violation. */
export function sarifFormatter(io: Io): Formatter {
  const rules = allRules.map((rule) => ({
    id: rule.id,
    name: rule.id,
    shortDescription: { text: rule.title },
    fullDescription: { text: rule.rationale },
    defaultConfiguration: { level: LEVELS[rule.severity] ?? 'warning' },
    properties: { severity: rule.severity, 'security-severity': SECURITY_SEVERITY[rule.severity] ?? '5.0', tags: ['security'] },
  }));
  io.out(`{"$schema":${JSON.stringify(SARIF_SCHEMA)},"version":"2.1.0","runs":[{"tool":{"driver":{"name":"remediate","rules":${JSON.stringify(rules)}}},"results":[`);
  let first = true;
  return {
    lines(lines) {
      const results = lines.filter((line): line is DecisionLine => line.verdict === 'violation').map((line) => JSON.stringify(result(line)));
      if (results.length === 0) return;
      io.out(`${first ? '' : ','}${results.join(',\n')}`);
      first = false;
    },
    end() {
      io.out(']}]}');
    },
  };
}
