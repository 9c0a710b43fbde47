/**
 * Runs a history query's WHERE clause (Athena's or CloudTrail Lake's) for real,
 * in SQLite (sql.js), over every recorded event placed at three times and in
 * two accounts, beside what the replay's own gate and the rules' patterns
 * select from the same records.
 */
import initSqlJs from 'sql.js';
import { ruleMatches } from '../../engine/patterns.js';
import { allRules } from '../../remediations/registry.js';
import { allFixtureNames, loadEvent } from './fixtures.js';

export const WINDOW = { since: new Date('2025-03-03T00:00:00Z'), until: new Date('2025-03-10T00:00:00Z') };
export const ACCOUNT = '111122223333';

export interface Selection {
  /** Rows the WHERE clause selected. */
  readonly selected: string[];
  /** Rows whose source and event name some trigger names: what the replay's gate lets through to a rule, in the window, of the account, without an error code. */
  readonly expected: string[];
  /** Rows some rule's whole pattern matches (all among the expected). */
  readonly matched: string[];
}

/** `where` gets the window and the account; `time` writes an ISO 8601 time the way the engine's `eventtime` column holds it. */
export async function runWhere(where: string, time: (iso: string) => string): Promise<Selection> {
  const SQL = await initSqlJs();
  const db = new SQL.Database();
  db.run('CREATE TABLE t (eventid TEXT, eventsource TEXT, eventname TEXT, errorcode TEXT, eventtime TEXT, recipientaccountid TEXT, awsregion TEXT)');
  const expected: string[] = [];
  const matched: string[] = [];
  let id = 0;
  for (const name of allFixtureNames()) {
    const event = loadEvent(name);
    const detail = event.detail as unknown as Record<string, unknown>;
    for (const eventTime of ['2025-03-02T23:59:59Z', '2025-03-05T12:00:00Z', '2025-03-10T00:00:00Z']) {
      for (const account of [ACCOUNT, '444455556666']) {
        id += 1;
        db.run('INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?)', [String(id), String(detail['eventSource']), String(detail['eventName']), (detail['errorCode'] as string | undefined) ?? null, time(eventTime), account, String(detail['awsRegion'])]);
        const inWindow = eventTime >= WINDOW.since.toISOString().replace('.000', '') && eventTime < WINDOW.until.toISOString().replace('.000', '');
        if (!inWindow || account !== ACCOUNT || detail['errorCode'] !== undefined) continue;
        if (allRules.some((rule) => rule.triggers.some((trigger) => trigger.eventSource === detail['eventSource'] && trigger.eventNames.includes(String(detail['eventName']))))) expected.push(String(id));
        if (allRules.some((rule) => ruleMatches(rule, event))) matched.push(String(id));
      }
    }
  }
  const result = db.exec(`SELECT eventid FROM t WHERE ${where}`);
  db.close();
  return { selected: (result[0]?.values ?? []).map(([value]) => String(value)).sort(), expected: expected.sort(), matched };
}
