/**
 * `remediate replay --from lake`: the history in a CloudTrail Lake event data
 * store, queried where it lives. The query is the Athena one's twin: the same
 * WHERE clause, built from the registry (Lake's columns have the same
 * lowercase names; `eventtime` is a timestamp, compared with
 * `'YYYY-MM-DD HH:MM:SS'` in UTC), and it selects `eventjson`, the record
 * exactly as CloudTrail wrote it, so nothing is rebuilt from columns.
 *
 * Lake bills the bytes a query scans, and its data is laid out by event time:
 * the `eventtime` range bounds what is read. CloudTrail Lake is closed to new
 * customers since 31 May 2026; existing event data stores go on working.
 * Permissions: `cloudtrail:StartQuery`, `cloudtrail:DescribeQuery` and
 * `cloudtrail:GetQueryResults` on the event data store.
 */
import type { Rule } from '../engine/types.js';
import { historyWhere } from './history-sql.js';
import { defaultSleep, waitForQuery, withRetry, type QueryWait } from './aws-retry.js';

/** An event data store's ARN (`arn:aws:cloudtrail:<region>:<account>:eventdatastore/<id>`) or its id alone. */
const STORE_ARN = /^arn:aws[a-z-]*:cloudtrail:([a-z0-9-]+):(\d{12}):eventdatastore\/([A-Za-z0-9-]{3,128})$/;
const STORE_ID = /^[A-Za-z0-9-]{3,128}$/;

export interface EventDataStore {
  /** What a query names in FROM: the id part of the ARN. */
  readonly id: string;
  /** The store's Region, when its ARN was given: the query runs there. */
  readonly region?: string;
}

/** The store an `--event-data-store` value names, or `undefined` when it is neither an event data store ARN nor an id. */
export function parseEventDataStore(value: string): EventDataStore | undefined {
  const arn = STORE_ARN.exec(value);
  if (arn) return { id: arn[3] as string, region: arn[1] as string };
  return STORE_ID.test(value) && !value.startsWith('arn') ? { id: value } : undefined;
}

export interface LakeQuery {
  readonly store: EventDataStore;
  readonly rules: readonly Rule[];
  readonly since: Date;
  readonly until: Date;
  readonly accounts?: readonly string[];
  readonly regions?: readonly string[];
}

/** `2025-03-01 00:00:00`: how Lake compares a timestamp with a string. */
function lakeTime(time: Date): string {
  return time.toISOString().slice(0, 19).replace('T', ' ');
}

/** The WHERE clause alone (a test runs it in SQLite too). */
export function lakeWhere(query: Omit<LakeQuery, 'store'>): string {
  return historyWhere(query, lakeTime);
}

/** The whole query, for Lake or for `--print-sql`. */
export function lakeSql(query: LakeQuery): string {
  return `SELECT eventjson\nFROM ${query.store.id}\nWHERE ${lakeWhere(query)}\nORDER BY eventtime`;
}

/** `timeoutMs` defaults to 1 hour, Lake's own limit on a query's run time. */
export interface LakeRun extends QueryWait {
  readonly sql: string;
  /** Default: a CloudTrail client in `region` (else the SDK's default Region). */
  readonly client?: Pick<import('@aws-sdk/client-cloudtrail').CloudTrailClient, 'send'>;
  readonly region?: string;
}

/** The `eventjson` value of one result row (a list of one-column maps), whatever case Lake gives the column name. */
function eventJsonOf(row: readonly Record<string, string>[]): string | undefined {
  for (const column of row) {
    for (const [name, value] of Object.entries(column)) if (name.toLowerCase() === 'eventjson') return value;
  }
  return undefined;
}

/**
 * Runs the query and yields each row's record as one JSON line; a failed,
 * cancelled or timed-out query throws with Lake's reason, and so does a row
 * without `eventjson` (a store of other events than CloudTrail's).
 */
export async function* lakeRecordLines(run: LakeRun): AsyncGenerator<string> {
  const { CloudTrailClient, StartQueryCommand, DescribeQueryCommand, GetQueryResultsCommand } = await import('@aws-sdk/client-cloudtrail');
  const client = run.client ?? new CloudTrailClient({ maxAttempts: 1, ...(run.region ? { region: run.region } : {}) });
  const sleep = run.sleep ?? defaultSleep;
  const send: typeof client.send = (command: Parameters<typeof client.send>[0]) => withRetry(() => client.send(command), { sleep });
  const started = await send(new StartQueryCommand({ QueryStatement: run.sql }));
  const id = started.QueryId;
  if (!id) throw new Error('CloudTrail Lake started no query (no QueryId)');
  await waitForQuery(
    `CloudTrail Lake query ${id}`,
    async () => {
      const query = await send(new DescribeQueryCommand({ QueryId: id }));
      const state = query.QueryStatus ?? 'UNKNOWN';
      const failed = state === 'FAILED' || state === 'CANCELLED' || state === 'TIMED_OUT';
      return { state, finished: state === 'FINISHED', ...(failed ? { failure: query.ErrorMessage ?? 'no reason given' } : {}) };
    },
    { ...run, sleep },
    60 * 60_000,
  );
  let token: string | undefined;
  let row = 0;
  do {
    const page = await send(new GetQueryResultsCommand({ QueryId: id, MaxQueryResults: 1000, ...(token ? { NextToken: token } : {}) }));
    for (const columns of page.QueryResultRows ?? []) {
      row += 1;
      const record = eventJsonOf(columns);
      if (record === undefined) throw new Error(`CloudTrail Lake query ${id}: row ${row} has no eventjson column (is this an event data store of CloudTrail events?)`);
      // One record per line: a line break inside JSON text is whitespace between tokens, so it is made a space.
      yield `${record.replace(/\r?\n/g, ' ')}\n`;
    }
    token = page.NextToken;
  } while (token);
}
