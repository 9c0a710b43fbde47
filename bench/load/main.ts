/**
 * `npm run load`: three bursts of N events (10,000 by default) at the
 * deployment's default reserved concurrency and API share, printed as one
 * table (simulated seconds; the real seconds each run took are the last row):
 *
 * 1. AWS's buckets as documented, the account otherwise idle;
 * 2. the EC2 buckets exhausted by another workload: empty at the start, and
 *    half of every refill taken by it for the whole run;
 * 3. an account whose buckets are a tenth of the documented size (with that
 *    other workload too): the bot's pacing assumes too much, meets throttling,
 *    and invocations run out of time part-way; their retries resume them.
 */
import { createRequire } from 'node:module';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { runLoad, type LoadOptions, type LoadReport } from './harness.js';

const { values } = parseArgs({ options: { events: { type: 'string' }, concurrency: { type: 'string' }, share: { type: 'string' } } });
const events = Number(values.events ?? 10_000);
/** The defaults of a deployment: `remediationConcurrency` 5, `apiShare` 0.5. */
const concurrency = Number(values.concurrency ?? 5);
const share = Number(values.share ?? 0.5);
if (!(events > 0 && concurrency >= 1 && share > 0 && share <= 1)) {
  process.stderr.write('load: --events > 0, --concurrency >= 1 and 0 < --share <= 1\n');
  process.exit(1);
}

const dynalite = createRequire(import.meta.url)('dynalite') as (options: Record<string, number>) => Server;
const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const client = new DynamoDBClient({ region: 'us-east-1', endpoint, credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'not-a-secret' } });

const scenarios: readonly { readonly name: string; readonly options: Partial<LoadOptions> }[] = [
  { name: 'documented buckets', options: {} },
  { name: 'EC2 exhausted by another workload', options: { other: { share: 0.5 } } },
  { name: 'buckets 1/10 of documented, + other', options: { other: { share: 0.5 }, scale: 0.1 } },
];

const sum = (counts: Readonly<Record<string, number>>) => Object.values(counts).reduce((a, b) => a + b, 0);
const rows: [string, (report: LoadReport, seconds: number) => string][] = [
  ['events (deliveries, 2% twice)', (r) => `${r.events} (${r.deliveries})`],
  ['decided', (r) => String(r.decided)],
  ['outcomes', (r) => Object.entries(r.outcomes).map(([k, v]) => `${k} ${v}`).join(', ')],
  ['writes sent', (r) => String(sum(r.stand.writes))],
  ['throttles met', (r) => String(sum(r.stand.throttled))],
  ['retries', (r) => String(r.pacing.retries)],
  ['invocations out of time, resumed', (r) => String(r.interrupted)],
  ['would reach the failure queue', (r) => String(r.givenUp.length)],
  ['duplicate writes', (r) => String(r.stand.duplicateWrites)],
  ['writes without an undo record', (r) => String([...r.revoked].filter((id) => !r.undoListed.has(id)).length)],
  ['calls beyond the bot\'s share', (r) => String(sum(r.stand.overShare))],
  ['invocations past the timeout', (r) => String(r.overran)],
  ['time to decision p50 (s)', (r) => r.decisionSeconds.p50.toFixed(0)],
  ['time to decision p99 (s)', (r) => r.decisionSeconds.p99.toFixed(0)],
  ['last event decided after (s)', (r) => r.decisionSeconds.max.toFixed(0)],
  ['real seconds', (_r, seconds) => seconds.toFixed(1)],
];

const results: { report: LoadReport; seconds: number }[] = [];
try {
  for (const [i, scenario] of scenarios.entries()) {
    const table = `load-${i}`;
    await client.send(new CreateTableCommand({ TableName: table, KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }], AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' }], BillingMode: 'PAY_PER_REQUEST' }));
    process.stderr.write(`${scenario.name}: ${events} events, concurrency ${concurrency}, share ${share}\n`);
    const started = process.hrtime.bigint();
    const report = await runLoad({
      events,
      concurrency,
      share,
      duplicates: 0.02,
      ...scenario.options,
      dynamo: { endpoint, table, client },
      onProgress: (done, total) => process.stderr.write(`  ${done}/${total} deliveries\r`),
    });
    results.push({ report, seconds: Number(process.hrtime.bigint() - started) / 1e9 });
    process.stderr.write('\n');
  }
} finally {
  client.destroy();
  server.close();
}

const header = ['', ...scenarios.map((s) => s.name)];
const lines = [header, header.map(() => '---'), ...rows.map(([label, cell]) => [label, ...results.map(({ report, seconds }) => cell(report, seconds))])];
process.stdout.write(`${lines.map((line) => `| ${line.join(' | ')} |`).join('\n')}\n\nConcurrency ${concurrency} (reserved), apiShare ${share}, function timeout 120 s, Lambda's 2 retries of a failed invocation; simulated seconds. Every rule in remediate, write budget raised to 100,000.\n`);
