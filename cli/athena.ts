/**
 * `remediate replay --from athena`: an organisation's history where it
 * already lives. One SQL query, built from the registry, selects in Amazon
 * Athena exactly the CloudTrail records a rule can act on, so no machine reads
 * the whole trail; each row becomes a CloudTrail record again and goes through
 * the same decision path as a file.
 *
 * The table is the one the Athena documentation creates for CloudTrail logs
 * ("Create the table for CloudTrail logs in Athena", manual or with partition
 * projection): lowercase columns, `useridentity` a struct, `requestparameters`,
 * `responseelements` and `additionaleventdata` JSON text, `eventtime` an ISO
 * 8601 string. The WHERE clause uses only what Athena and SQLite share
 * (`IN`, `IS NULL`, string comparison), so a test runs it in SQLite.
 * Athena bills the bytes it scans: with `--projection` (the partition
 * projection table, partitioned by `timestamp` as `yyyy/MM/dd`) the time
 * range also prunes partitions, so only the days asked for are read.
 */
import { defaultSleep, waitForQuery, withRetry, type QueryWait } from './aws-retry.js';
import { historyWhere, quote, type HistoryScope } from './history-sql.js';

export interface AthenaQuery extends HistoryScope {
  readonly database: string;
  readonly table: string;
  /** The table is partitioned by `timestamp` (`yyyy/MM/dd`), as the partition projection DDL makes it. */
  readonly projection?: boolean;
}

/** Athena (and Glue) names: letters, digits and underscores. Anything else is refused before a query is built. */
export const ATHENA_NAME = /^[A-Za-z0-9_]{1,255}$/;

/** The columns read back, by the path in the record each rebuilds. */
export const SELECTED_COLUMNS: readonly (readonly [string, string])[] = [
  ['eventversion', 'eventVersion'],
  ['useridentity.type', 'userIdentity.type'],
  ['useridentity.principalid', 'userIdentity.principalId'],
  ['useridentity.arn', 'userIdentity.arn'],
  ['useridentity.accountid', 'userIdentity.accountId'],
  ['useridentity.invokedby', 'userIdentity.invokedBy'],
  ['useridentity.accesskeyid', 'userIdentity.accessKeyId'],
  ['useridentity.username', 'userIdentity.userName'],
  ['useridentity.sessioncontext.attributes.mfaauthenticated', 'userIdentity.sessionContext.attributes.mfaAuthenticated'],
  ['useridentity.sessioncontext.attributes.creationdate', 'userIdentity.sessionContext.attributes.creationDate'],
  ['useridentity.sessioncontext.sessionissuer.type', 'userIdentity.sessionContext.sessionIssuer.type'],
  ['useridentity.sessioncontext.sessionissuer.principalid', 'userIdentity.sessionContext.sessionIssuer.principalId'],
  ['useridentity.sessioncontext.sessionissuer.arn', 'userIdentity.sessionContext.sessionIssuer.arn'],
  ['useridentity.sessioncontext.sessionissuer.accountid', 'userIdentity.sessionContext.sessionIssuer.accountId'],
  ['useridentity.sessioncontext.sessionissuer.username', 'userIdentity.sessionContext.sessionIssuer.userName'],
  ['eventtime', 'eventTime'],
  ['eventsource', 'eventSource'],
  ['eventname', 'eventName'],
  ['awsregion', 'awsRegion'],
  ['sourceipaddress', 'sourceIPAddress'],
  ['useragent', 'userAgent'],
  ['errorcode', 'errorCode'],
  ['errormessage', 'errorMessage'],
  ['requestparameters', 'requestParameters'],
  ['responseelements', 'responseElements'],
  ['additionaleventdata', 'additionalEventData'],
  ['requestid', 'requestID'],
  ['eventid', 'eventID'],
  ['eventtype', 'eventType'],
  ['recipientaccountid', 'recipientAccountId'],
];

/** Columns that hold JSON text in the table and objects in a record. */
const JSON_COLUMNS = new Set(['requestParameters', 'responseElements', 'additionalEventData']);


/** `2025-03-01T00:00:00Z`: the form of `eventtime`, so that strings compare as times. */
function eventTimeText(time: Date): string {
  return `${time.toISOString().slice(0, 19)}Z`;
}

function day(time: Date): string {
  return time.toISOString().slice(0, 10).replace(/-/g, '/');
}

/** The WHERE clause alone: what a rule can act on, in the time range (the part a test runs in SQLite too). */
export function athenaWhere(query: Omit<AthenaQuery, 'database' | 'table'>): string {
  // With partition projection: a log file sits under the day it was delivered, after its events, so a day more at the end keeps late deliveries.
  return historyWhere(query, eventTimeText, query.projection ? [`"timestamp" >= ${quote(day(query.since))}`, `"timestamp" <= ${quote(day(new Date(query.until.getTime() + 86_400_000)))}`] : []);
}

/** The whole query, for Athena or for `--print-sql`. */
export function athenaSql(query: AthenaQuery): string {
  if (!ATHENA_NAME.test(query.database) || !ATHENA_NAME.test(query.table)) throw new Error('database and table names are letters, digits and underscores');
  const columns = SELECTED_COLUMNS.map(([column]) => column).join(',\n  ');
  return `SELECT\n  ${columns}\nFROM "${query.database}"."${query.table}"\nWHERE ${athenaWhere(query)}\nORDER BY eventtime`;
}

/** One result row (in {@link SELECTED_COLUMNS} order) as the CloudTrail record it came from. */
export function recordFromRow(values: readonly (string | undefined)[]): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  SELECTED_COLUMNS.forEach(([, path], index) => {
    const raw = values[index];
    if (raw === undefined || raw === '') return;
    const parts = path.split('.');
    let node = record;
    for (const part of parts.slice(0, -1)) {
      const next = node[part];
      node = (typeof next === 'object' && next !== null ? next : (node[part] = {})) as Record<string, unknown>;
    }
    const key = parts.at(-1) ?? path;
    node[key] = JSON_COLUMNS.has(key) ? parseJson(raw) : raw;
  });
  return record;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    // Kept as text: the rule that reads it says it could not inspect it.
    return text;
  }
}

/** `timeoutMs` defaults to 30 minutes, Athena's own default DML timeout. */
export interface AthenaRun extends QueryWait {
  readonly sql: string;
  readonly database: string;
  readonly workgroup?: string;
  readonly outputLocation?: string;
  /** Default: an Athena client in `region` (else the SDK's default Region). */
  readonly client?: Pick<import('@aws-sdk/client-athena').AthenaClient, 'send'>;
  readonly region?: string;
}

/** Runs the query and yields each result row as one JSON line of a CloudTrail record; a failed query throws with Athena's reason. */
export async function* athenaRecordLines(run: AthenaRun): AsyncGenerator<string> {
  const { AthenaClient, StartQueryExecutionCommand, GetQueryExecutionCommand, GetQueryResultsCommand } = await import('@aws-sdk/client-athena');
  const client = run.client ?? new AthenaClient({ maxAttempts: 1, ...(run.region ? { region: run.region } : {}) });
  const sleep = run.sleep ?? defaultSleep;
  const send: typeof client.send = (command: Parameters<typeof client.send>[0]) => withRetry(() => client.send(command), { sleep });
  const started = await send(
    new StartQueryExecutionCommand({
      QueryString: run.sql,
      QueryExecutionContext: { Database: run.database },
      ...(run.workgroup ? { WorkGroup: run.workgroup } : {}),
      ...(run.outputLocation ? { ResultConfiguration: { OutputLocation: run.outputLocation } } : {}),
    }),
  );
  const id = started.QueryExecutionId;
  if (!id) throw new Error('Athena started no query (no QueryExecutionId)');
  await waitForQuery(
    `Athena query ${id}`,
    async () => {
      const status = (await send(new GetQueryExecutionCommand({ QueryExecutionId: id }))).QueryExecution?.Status;
      const state = status?.State ?? 'UNKNOWN';
      const failed = state === 'FAILED' || state === 'CANCELLED';
      return { state, finished: state === 'SUCCEEDED', ...(failed ? { failure: status?.StateChangeReason ?? status?.AthenaError?.ErrorMessage ?? 'no reason given' } : {}) };
    },
    { ...run, sleep },
    30 * 60_000,
  );
  let token: string | undefined;
  let header = true;
  do {
    const page = await send(new GetQueryResultsCommand({ QueryExecutionId: id, MaxResults: 1000, ...(token ? { NextToken: token } : {}) }));
    for (const row of page.ResultSet?.Rows ?? []) {
      // The first row of the first page names the columns.
      if (header) {
        header = false;
        continue;
      }
      yield `${JSON.stringify(recordFromRow((row.Data ?? []).map((datum) => datum.VarCharValue)))}\n`;
    }
    token = page.NextToken;
  } while (token);
}
