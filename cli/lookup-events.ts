/**
 * `remediate replay --from cloudtrail`: the account's recent history straight
 * from CloudTrail's event history (`LookupEvents`: 90 days of management
 * events per Region), without downloading logs.
 *
 * `LookupEvents` takes one lookup attribute per call, so the history is read
 * once per event source of the registry (a dozen sources, where the registry
 * names about 70 events) and each event is kept only when its name reaches a
 * rule: the same gate as a file replay. Each kept event's `CloudTrailEvent`
 * (the record as CloudTrail wrote it) becomes one line of JSON Lines, read by
 * the same decision path as a file.
 *
 * The API allows 2 requests per second per account and Region: calls are
 * spaced by {@link MIN_INTERVAL_MS}, and a `ThrottlingException` is retried
 * with exponential backoff up to {@link MAX_ATTEMPTS} times before the run
 * fails with the reason. Permission needed: `cloudtrail:LookupEvents` only.
 */
import { CloudTrailClient, LookupEventsCommand, type LookupEventsCommandOutput } from '@aws-sdk/client-cloudtrail';
import { Readable } from 'node:stream';
import { defaultSleep, withRetry } from './aws-retry.js';

/** 2 requests per second per account per Region (the CloudTrail API reference, LookupEvents). */
export const MIN_INTERVAL_MS = 500;
export const MAX_ATTEMPTS = 6;
/** What LookupEvents holds. */
export const LOOKUP_WINDOW_DAYS = 90;

export interface LookupSource {
  /** Regions to read, each on its own (event history is per Region). */
  readonly regions: readonly string[];
  /** Event sources of the registry (`ec2.amazonaws.com`, …). */
  readonly eventSources: readonly string[];
  /** Event names that reach a rule; others are dropped here. */
  readonly eventNames: ReadonlySet<string>;
  readonly since: Date;
  readonly until: Date;
  readonly client?: (region: string) => Pick<CloudTrailClient, 'send'>;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly now?: () => number;
  /** Called after each page: what has been read so far. */
  readonly onPage?: (progress: { readonly region: string; readonly eventSource: string; readonly pages: number; readonly events: number }) => void;
}

/** Every kept record of the history, as one JSON line each, in the order CloudTrail pages them (newest first per source). */
export async function* lookupEventLines(source: LookupSource): AsyncGenerator<string> {
  const sleep = source.sleep ?? defaultSleep;
  const now = source.now ?? Date.now;
  let last = Number.NEGATIVE_INFINITY;
  let pages = 0;
  let events = 0;
  for (const region of source.regions) {
    const client = source.client?.(region) ?? new CloudTrailClient({ region, maxAttempts: 1 });
    for (const eventSource of source.eventSources) {
      let token: string | undefined;
      do {
        const page: LookupEventsCommandOutput = await withRetry(
          async () => {
            const wait = last + MIN_INTERVAL_MS - now();
            if (wait > 0) await sleep(wait);
            last = now();
            return client.send(
              new LookupEventsCommand({
                LookupAttributes: [{ AttributeKey: 'EventSource', AttributeValue: eventSource }],
                StartTime: source.since,
                EndTime: source.until,
                MaxResults: 50,
                ...(token ? { NextToken: token } : {}),
              }),
            );
          },
          { sleep, attempts: MAX_ATTEMPTS, firstWaitMs: 2 * MIN_INTERVAL_MS },
        );
        pages += 1;
        for (const event of page.Events ?? []) {
          if (event.EventName === undefined || !source.eventNames.has(event.EventName) || event.CloudTrailEvent === undefined) continue;
          events += 1;
          // One record per line: CloudTrail's JSON text has no raw newline, but a line break is made safe anyway.
          yield `${event.CloudTrailEvent.replace(/\r?\n/g, ' ')}\n`;
        }
        source.onPage?.({ region, eventSource, pages, events });
        token = page.NextToken;
      } while (token);
    }
  }
}

/** The history as a stream of JSON Lines, for the replay's input. */
export function lookupEventStream(source: LookupSource): Readable {
  return Readable.from(lookupEventLines(source), { objectMode: false });
}
