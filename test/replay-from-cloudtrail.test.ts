/**
 * `remediate replay --from cloudtrail`: LookupEvents, paged per event source
 * of the registry, spaced to its rate limit, retried when throttled, into the
 * same decisions as a file replay.
 */
import { CloudTrailClient, CloudTrailServiceException, LookupEventsCommand } from '@aws-sdk/client-cloudtrail';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { lookupEventLines, MAX_ATTEMPTS, MIN_INTERVAL_MS } from '../cli/lookup-events.js';
import { parseTimestamp } from '../cli/main.js';
import { expectUsageError, runCli } from './helpers/cli.js';
import { loadEvent } from './helpers/fixtures.js';

const cloudtrail = mockClient(CloudTrailClient);
const SINCE = new Date('2025-03-01T00:00:00Z');
const UNTIL = new Date('2025-03-08T00:00:00Z');

/** An event of LookupEvents' answer: its name and the record as CloudTrail wrote it. */
function lookedUp(fixture: string, eventTime?: string) {
  const { detail } = loadEvent(fixture);
  const record = { ...detail, ...(eventTime ? { eventTime } : {}) };
  return { EventId: String(detail['eventID'] ?? 'e'), EventName: String(detail['eventName']), EventSource: String(detail['eventSource']), CloudTrailEvent: JSON.stringify(record) };
}

const SSH = 'ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json';
const TAGS = 'ec2/CreateTags-name-tag-two-resources-compliant.json';

const throttled = () => new CloudTrailServiceException({ name: 'ThrottlingException', $fault: 'client', $metadata: {}, message: 'Rate exceeded' });

/** A clock that only moves when the code sleeps, and the sleeps it asked for. */
function fakeTime() {
  let time = 0;
  const sleeps: number[] = [];
  return {
    sleeps,
    now: () => time,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      time += ms;
    },
  };
}

async function collect(lines: AsyncGenerator<string>): Promise<string[]> {
  const out: string[] = [];
  for await (const line of lines) out.push(line);
  return out;
}

beforeEach(() => cloudtrail.reset());

describe('lookupEventLines', () => {
  it('pages each event source with exactly one lookup attribute and the time range, and keeps only the events that reach a rule', async () => {
    cloudtrail
      .on(LookupEventsCommand, { LookupAttributes: [{ AttributeKey: 'EventSource', AttributeValue: 'ec2.amazonaws.com' }] })
      .resolvesOnce({ Events: [lookedUp(SSH), lookedUp(TAGS)], NextToken: 'page-2' })
      .resolvesOnce({ Events: [lookedUp(SSH, '2025-03-02T10:00:00Z')] });
    cloudtrail.on(LookupEventsCommand, { LookupAttributes: [{ AttributeKey: 'EventSource', AttributeValue: 's3.amazonaws.com' }] }).resolves({ Events: [] });
    const time = fakeTime();
    const lines = await collect(
      lookupEventLines({
        regions: ['us-east-1'],
        eventSources: ['ec2.amazonaws.com', 's3.amazonaws.com'],
        eventNames: new Set(['AuthorizeSecurityGroupIngress']),
        since: SINCE,
        until: UNTIL,
        client: () => new CloudTrailClient({ region: 'us-east-1' }),
        ...time,
      }),
    );
    expect(cloudtrail.commandCalls(LookupEventsCommand).map((call) => call.args[0].input)).toStrictEqual([
      { LookupAttributes: [{ AttributeKey: 'EventSource', AttributeValue: 'ec2.amazonaws.com' }], StartTime: SINCE, EndTime: UNTIL, MaxResults: 50 },
      { LookupAttributes: [{ AttributeKey: 'EventSource', AttributeValue: 'ec2.amazonaws.com' }], StartTime: SINCE, EndTime: UNTIL, MaxResults: 50, NextToken: 'page-2' },
      { LookupAttributes: [{ AttributeKey: 'EventSource', AttributeValue: 's3.amazonaws.com' }], StartTime: SINCE, EndTime: UNTIL, MaxResults: 50 },
    ]);
    expect(lines.map((line) => (JSON.parse(line) as { eventName: string; eventTime: string }).eventTime)).toStrictEqual([loadEvent(SSH).detail.eventTime, '2025-03-02T10:00:00Z']);
    expect(lines.every((line) => line.endsWith('\n') && !line.slice(0, -1).includes('\n'))).toBe(true);
    // Two requests per second: every call after the first waits out the interval.
    expect(time.sleeps).toStrictEqual([MIN_INTERVAL_MS, MIN_INTERVAL_MS]);
  });

  it('retries a throttled call with growing waits, and gives up with the error after its attempts', async () => {
    cloudtrail.on(LookupEventsCommand).rejectsOnce(throttled()).rejectsOnce(throttled()).resolves({ Events: [lookedUp(SSH)] });
    const time = fakeTime();
    const source = { regions: ['eu-west-1'], eventSources: ['ec2.amazonaws.com'], eventNames: new Set(['AuthorizeSecurityGroupIngress']), since: SINCE, until: UNTIL, ...time };
    expect(await collect(lookupEventLines(source))).toHaveLength(1);
    // Backoff doubles from twice the interval; a wait already that long needs no more spacing.
    expect(time.sleeps).toStrictEqual([2 * MIN_INTERVAL_MS, 4 * MIN_INTERVAL_MS]);

    cloudtrail.reset();
    cloudtrail.on(LookupEventsCommand).rejects(throttled());
    await expect(collect(lookupEventLines({ ...source, ...fakeTime() }))).rejects.toThrow('Rate exceeded');
    expect(cloudtrail.commandCalls(LookupEventsCommand)).toHaveLength(MAX_ATTEMPTS);
  });
});

describe('remediate replay --from cloudtrail', () => {
  const jsonl = (stdout: readonly string[]) => stdout.join('\n').split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>);

  it('decides the looked-up events exactly as a file replay decides the same records', async () => {
    cloudtrail.on(LookupEventsCommand).resolves({ Events: [lookedUp(SSH)] });
    const fromCloudTrail = await runCli(['replay', '--from', 'cloudtrail', '--region', 'us-east-1', '--since', '2025-01-01', '--rule', 'sg-open-ingress', '--format', 'jsonl']);
    expect(fromCloudTrail.stderr).toStrictEqual([]);
    expect(fromCloudTrail.code).toBe(0);
    const [decision] = jsonl(fromCloudTrail.stdout);
    const fromFile = jsonl((await runCli(['replay', `events/${SSH}`, '--rule', 'sg-open-ingress', '--format', 'jsonl'])).stdout)[0];
    const { source: lookedUpSource, ...rest } = decision ?? {};
    const { source: _fileSource, ...expected } = fromFile ?? {};
    expect(rest).toStrictEqual(expected);
    expect(lookedUpSource).toMatch(/^cloudtrail:LookupEvents/);
    // One event source for this rule: ec2.
    expect(cloudtrail.commandCalls(LookupEventsCommand).map((call) => call.args[0].input.LookupAttributes)).toStrictEqual([[{ AttributeKey: 'EventSource', AttributeValue: 'ec2.amazonaws.com' }]]);
  });

  it('reports a refused LookupEvents as one unreadable line and exit code 2, and makes no other call', async () => {
    cloudtrail.on(LookupEventsCommand).rejects(new CloudTrailServiceException({ name: 'AccessDeniedException', $fault: 'client', $metadata: {}, message: 'not authorized to perform: cloudtrail:LookupEvents' }));
    const { code, stdout } = await runCli(['replay', '--from', 'cloudtrail', '--region', 'us-east-1', '--format', 'jsonl']);
    expect(code).toBe(2);
    const lines = jsonl(stdout);
    expect(lines).toHaveLength(1);
    expect(String(lines[0]?.['error'])).toContain('cloudtrail:LookupEvents');
    expect(cloudtrail.commandCalls(LookupEventsCommand)).toHaveLength(1);
  });

  it('takes --since and --until as a duration before now, as history does', () => {
    const now = Date.parse('2026-12-01T00:00:00Z');
    expect(parseTimestamp('--since', '7d', now)).toBe(Date.parse('2026-11-24T00:00:00Z'));
    expect(parseTimestamp('--until', '12h', now)).toBe(Date.parse('2026-11-30T12:00:00Z'));
    expect(() => parseTimestamp('--since', '7w', now)).toThrow('--since must be a duration before now (7d, 12h) or an ISO 8601 date');
  });

  it.each([
    [['replay', '--from', 'laek'], '--from must be cloudtrail, athena, lake, got "laek"; did you mean lake?'],
    [['replay', '--from', 'cloudtrail', 'events/'], '--from reads the history from AWS: name no file or directory with it'],
    [['replay', 'events/', '--region', 'us-east-1'], '--region only applies with --from cloudtrail, athena or lake'],
    [['replay', '--from', 'cloudtrail'], '--from cloudtrail needs a Region: --region R (repeatable), or AWS_REGION'],
    [['replay', '--from', 'cloudtrail', '--region', 'us-east-1;rm'], '--region must name an AWS Region such as us-east-1, got "us-east-1;rm"'],
  ])('refuses %j in one line, with no AWS call', (argv, message) => expectUsageError(argv, message, [cloudtrail]));
});
