/**
 * The SQL that Athena (over the CloudTrail table) and CloudTrail Lake (over an
 * event data store) share: both name the columns the same way in lowercase,
 * and the WHERE clause uses only what they and SQLite have in common (`IN`,
 * `IS NULL`, string comparison), so a test runs it in SQLite.
 */
import type { Rule } from '../engine/types.js';

export const quote = (text: string) => `'${text.replace(/'/g, "''")}'`;

export interface HistoryScope {
  readonly rules: readonly Rule[];
  readonly since: Date;
  readonly until: Date;
  readonly accounts?: readonly string[];
  readonly regions?: readonly string[];
}

/**
 * The WHERE clause both query engines share (Athena's CloudTrail table and a
 * CloudTrail Lake event data store have the same lowercase column names):
 * each event source of the rules with exactly its event names, no error
 * code, the time range written by `time` in the engine's form, the accounts
 * and Regions asked for, then `extra` conditions.
 */
export function historyWhere(query: HistoryScope, time: (at: Date) => string, extra: readonly string[] = []): string {
  const bySource = new Map<string, Set<string>>();
  for (const trigger of query.rules.flatMap((rule) => rule.triggers)) {
    const names = bySource.get(trigger.eventSource) ?? new Set<string>();
    for (const name of trigger.eventNames) names.add(name);
    bySource.set(trigger.eventSource, names);
  }
  const pairs = [...bySource.entries()]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([source, names]) => `(eventsource = ${quote(source)} AND eventname IN (${[...names].sort().map(quote).join(', ')}))`);
  const conditions = [
    `(${pairs.join('\n    OR ')})`,
    'errorcode IS NULL',
    `eventtime >= ${quote(time(query.since))}`,
    `eventtime < ${quote(time(query.until))}`,
    ...(query.accounts && query.accounts.length > 0 ? [`recipientaccountid IN (${query.accounts.map(quote).join(', ')})`] : []),
    ...(query.regions && query.regions.length > 0 ? [`awsregion IN (${query.regions.map(quote).join(', ')})`] : []),
    ...extra,
  ];
  return conditions.join('\n  AND ');
}
