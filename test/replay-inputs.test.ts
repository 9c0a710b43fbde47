/**
 * Replay inputs: every format, read through the streaming scanner, gives the
 * records and decisions the plain `JSON.parse` reading gives; the event-name
 * gate drops only records no rule can reach; bad input is reported with its
 * file and line, and the run goes on.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { createHash, randomUUID } from 'node:crypto';
import { parseConfig } from '../engine/config.js';
import { eventNameGate, requiredEventNames, requiredLiterals } from '../cli/gate.js';
import { listInputs, readRecords, readSource, WHOLE_FILE_BYTES, type InputRecord } from '../cli/inputs.js';
import { classifyRecord, deliveredByEventBridge, detailTypeOf, envelopeIdFor, wrapRecord } from '../cli/records.js';
import { replayInput } from '../cli/replay-input.js';
import { decideRecord, type ReplayLine, type ReplayOptions } from '../cli/replay.js';
import { RecordScanner, type NameGate } from '../cli/scan.js';
import { allRules } from '../remediations/registry.js';
import { loadEvent } from './helpers/fixtures.js';

const FIXTURES = join(import.meta.dirname, 'fixtures-replay');
/**
 * The security-group rule, and the one rule whose pattern narrows an event name
 * by a request field (so the gate also looks for a literal): what reaches them
 * does not change as other families land.
 */
const sgRules = allRules.filter((rule) => rule.id === 'sg-open-ingress' || rule.id === 'bot-role-impostor');
const options: ReplayOptions = { rules: sgRules, config: parseConfig({}, allRules), env: {} };
const gate = eventNameGate(sgRules) as NameGate;

const worldSsh = () => loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json');
const privatePostgres = () => loadEvent('ec2/AuthorizeSecurityGroupIngress-private-postgres-compliant.json');

const temp = mkdtempSync(join(tmpdir(), 'replay-inputs-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

function write(relative: string, content: string | Buffer): string {
  const path = join(temp, relative);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, content);
  return path;
}

async function collect<T>(source: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = [];
  for await (const item of source) items.push(item);
  return items;
}

/** Replays inputs the way the CLI does on one thread, with or without the gate. */
async function replayText(text: string | Buffer, name: string, withGate: boolean, chunks?: readonly number[]): Promise<{ lines: ReplayLine[]; records: number }> {
  const bytes = Buffer.isBuffer(text) ? text : Buffer.from(text);
  const pieces: Buffer[] = [];
  let at = 0;
  for (const size of chunks ?? []) {
    if (at >= bytes.length) break;
    pieces.push(bytes.subarray(at, at + size));
    at += size;
  }
  if (at < bytes.length) pieces.push(bytes.subarray(at));
  const lines: ReplayLine[] = [];
  const counts = await replayInput(Readable.from(pieces), name, { ...options, ...(withGate ? { gate } : {}) }, { lines: (batch) => void lines.push(...batch) });
  return { lines, records: counts.records };
}

async function decideAllRecords(records: readonly InputRecord[]): Promise<ReplayLine[]> {
  const lines: ReplayLine[] = [];
  for (const record of records) lines.push(...((await decideRecord(record, options)) ?? []));
  return lines;
}

describe('replay inputs', () => {
  describe('formats', () => {
    it('reads an EventBridge envelope file, a JSON array of envelopes and JSON Lines of envelopes alike', async () => {
      const event = worldSsh();
      const single = write('envelopes/single.json', JSON.stringify(event, null, 2));
      const array = write('envelopes/array.json', JSON.stringify([event, privatePostgres()], null, 2));
      const lines = write('envelopes/lines.jsonl', `${JSON.stringify(event)}\n${JSON.stringify(privatePostgres())}\n`);

      const records = await collect(readRecords([single, array, lines]));

      expect(records.map((record) => record.origin)).toStrictEqual([single, `${array}:2:[0]`, `${array}:82:[1]`, `${lines}:1`, `${lines}:2`]);
      expect(records.map((record) => ('value' in record ? (record.value as { id: string }).id : record.error))).toStrictEqual([
        event.id,
        event.id,
        privatePostgres().id,
        event.id,
        privatePostgres().id,
      ]);
    });

    it('reads CloudTrail log files as S3 delivers them, plain and gzipped, in the AWSLogs tree, and skips digest files', async () => {
      const log = JSON.stringify({ Records: [worldSsh().detail, privatePostgres().detail] });
      const day = 'AWSLogs/111122223333/CloudTrail/us-east-1/2025/03/04';
      const gz = write(`s3/${day}/111122223333_CloudTrail_us-east-1_20250304T1015Z_a1B2c3D4e5F6g7H8.json.gz`, gzipSync(log));
      const plain = write(`s3/${day}/111122223333_CloudTrail_us-east-1_20250304T1020Z_b1B2c3D4e5F6g7H8.json`, log);
      write(`s3/AWSLogs/111122223333/CloudTrail-Digest/us-east-1/2025/03/04/111122223333_CloudTrail-Digest_us-east-1_trail_us-east-1_20250304T1100Z.json.gz`, gzipSync('{"awsAccountId":"111122223333"}'));

      const inputs = await listInputs([join(temp, 's3')]);
      const lines = await decideAllRecords(await collect(readRecords([join(temp, 's3')])));

      expect(inputs.map((input) => (input.kind === 'file' ? input.path : input.kind))).toStrictEqual([gz, plain]);
      expect(lines.map((line) => [line.source, line.verdict])).toStrictEqual([
        [`${gz}:1:Records[0]`, 'violation'],
        [`${gz}:1:Records[1]`, 'compliant'],
        [`${plain}:1:Records[0]`, 'violation'],
        [`${plain}:1:Records[1]`, 'compliant'],
      ]);
    });

    it('reads aws cloudtrail lookup-events output through each entry\'s CloudTrailEvent string', async () => {
      const file = join(FIXTURES, 'lookup-events.json');

      const lines = await decideAllRecords(await collect(readRecords([file])));

      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ eventId: worldSsh().detail.eventID, rule: 'sg-open-ingress', verdict: 'violation', source: `${file}:3:Events[0]` });
    });

    it('reads CloudTrail Lake and Athena exports (JSON Lines of raw records) and leaves out read-only calls EventBridge does not deliver', async () => {
      const file = join(FIXTURES, 'lake-export.jsonl');

      const lines = await decideAllRecords(await collect(readRecords([file])));

      expect(lines.map((line) => [line.source, line.verdict])).toStrictEqual([
        [`${file}:1`, 'violation'],
        [`${file}:3`, 'compliant'],
      ]);
    });

    it('reads stdin like a file, gzip included', async () => {
      const log = gzipSync(JSON.stringify({ Records: [worldSsh().detail] }));

      const records = await collect(readRecords(['-'], Readable.from([log])));

      expect(records).toStrictEqual([{ origin: 'stdin:1:Records[0]', value: worldSsh().detail }]);
    });
  });

  describe('wrapping raw records', () => {
    it('wraps a raw record exactly as EventBridge delivers it, with an id derived from eventID', () => {
      const record = worldSsh().detail;

      const envelope = wrapRecord(record);

      expect(envelope).toStrictEqual({
        version: '0',
        id: envelopeIdFor(record.eventID),
        'detail-type': 'AWS API Call via CloudTrail',
        source: 'aws.ec2',
        account: '111122223333',
        time: '2025-03-04T10:15:00Z',
        region: 'us-east-1',
        resources: [],
        detail: record,
      });
    });

    it('derives the same RFC 9562 version-5 id for the same eventID, and different ids for different ones', () => {
      const id = envelopeIdFor('7cbd12f7-48e3-4e4c-a988-254bb5154dfb');

      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(envelopeIdFor('7cbd12f7-48e3-4e4c-a988-254bb5154dfb')).toBe(id);
      expect(envelopeIdFor('7cbd12f7-48e3-4e4c-a988-254bb5154dfc')).not.toBe(id);
    });

    it('derives the id as RFC 9562 says (SHA-1 of namespace and name, version and variant set), for ids of any length and script', () => {
      const namespace = Buffer.from('6f0b7a3e4c2d4f1a9b8e5d7c3a1f2e40', 'hex');
      const reference = (name: string) => {
        const bytes = createHash('sha1').update(namespace).update(name, 'utf8').digest().subarray(0, 16);
        bytes[6] = ((bytes[6] as number) & 0x0f) | 0x50;
        bytes[8] = ((bytes[8] as number) & 0x3f) | 0x80;
        const hex = bytes.toString('hex');
        return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
      };
      // Long ids (past the reused buffer) and short ones in turn: nothing of one may leak into the next.
      fc.assert(fc.property(fc.oneof(fc.uuid(), fc.string({ unit: 'grapheme', maxLength: 40 }), fc.string({ minLength: 200, maxLength: 600 })), (name) => {
          expect(envelopeIdFor(name)).toBe(reference(name));
        }), {
        numRuns: 500,
      });
      expect(envelopeIdFor('7cbd12f7-48e3-4e4c-a988-254bb5154dfb')).toBe('e5b45ca7-f5e1-5a50-a5de-1d89f7688acc');
    });

    it('takes the account from userIdentity when recipientAccountId is absent, and the detail-type from eventType', () => {
      const { recipientAccountId: _omitted, ...record } = worldSsh().detail as Record<string, unknown>;

      expect(wrapRecord(record)['account']).toBe('111122223333');
      expect(wrapRecord({ ...record, eventType: 'AwsConsoleSignIn' })['detail-type']).toBe('AWS Console Sign In via CloudTrail');
      expect(wrapRecord({ ...record, eventType: 'AwsServiceEvent' })['detail-type']).toBe('AWS Service Event via CloudTrail');
    });

    it('drops read-only Describe/Get/List management events only, as a rule in state ENABLED receives none of them', () => {
      const base = { eventSource: 'ec2.amazonaws.com', managementEvent: true };

      expect(deliveredByEventBridge({ ...base, eventName: 'DescribeSecurityGroups', readOnly: true })).toBe(false);
      expect(deliveredByEventBridge({ ...base, eventName: 'ListBuckets', readOnly: true })).toBe(false);
      expect(deliveredByEventBridge({ ...base, eventName: 'DescribeSecurityGroups' })).toBe(true);
      expect(deliveredByEventBridge({ ...base, eventName: 'GetObject', readOnly: true, managementEvent: false })).toBe(true);
      expect(deliveredByEventBridge({ eventSource: 'sts.amazonaws.com', eventName: 'GetSessionToken', readOnly: true })).toBe(true);
      expect(deliveredByEventBridge({ ...base, eventName: 'AuthorizeSecurityGroupIngress', readOnly: false })).toBe(true);
    });

    describe('a trimmed record without eventType', () => {
      const trimmed = (name: string): Record<string, unknown> => {
        const { eventType: _eventType, ...record } = loadEvent(name).detail as Record<string, unknown>;
        return record;
      };
      const everyRule: ReplayOptions = { rules: allRules, config: parseConfig({}, allRules), env: {} };

      it('is wrapped as an API call and decided, as the full record would be', async () => {
        const record = trimmed('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json');

        const lines = await decideRecord({ origin: 'lake.jsonl:1', value: record }, options);
        const full = await decideRecord({ origin: 'lake.jsonl:1', value: worldSsh().detail }, options);

        expect(wrapRecord(record)['detail-type']).toBe('AWS API Call via CloudTrail');
        expect(lines).toStrictEqual(full);
        expect(lines?.map((line) => [line.verdict, 'rule' in line ? line.rule : undefined])).toStrictEqual([['violation', 'sg-open-ingress']]);
      });

      it('is wrapped as a console sign-in when it is ConsoleLogin, and reaches the sign-in rules', async () => {
        const record = trimmed('signin/ConsoleLogin-root-success-mfa.json');

        const lines = await decideRecord({ origin: 'lake.jsonl:2', value: record }, everyRule);
        const full = await decideRecord({ origin: 'lake.jsonl:2', value: loadEvent('signin/ConsoleLogin-root-success-mfa.json').detail }, everyRule);

        expect(wrapRecord(record)['detail-type']).toBe('AWS Console Sign In via CloudTrail');
        expect(lines).toStrictEqual(full);
        expect(lines?.find((line) => 'rule' in line && line.rule === 'root-console-login')).toMatchObject({ verdict: 'violation' });
      });

      it('takes the detail-type from the fields only service and Insights events carry', () => {
        const base = { eventSource: 'kms.amazonaws.com', eventName: 'RotateKey' };

        expect(detailTypeOf({ ...base, serviceEventDetails: {} })).toStrictEqual({ kind: 'known', detailType: 'AWS Service Event via CloudTrail' });
        expect(detailTypeOf({ ...base, insightDetails: {} })).toStrictEqual({ kind: 'known', detailType: 'AWS Insight via CloudTrail' });
        expect(detailTypeOf({ ...base, eventType: null })).toStrictEqual({ kind: 'known', detailType: 'AWS API Call via CloudTrail' });
      });

      it('is reported as invalid, with the reason, when its detail-type cannot be told', () => {
        expect(classifyRecord({ eventSource: 'signin.amazonaws.com', eventName: 'CredentialVerification', eventID: 'e-1' })).toStrictEqual({
          kind: 'invalid',
          error: 'no "eventType", and signin.amazonaws.com "CredentialVerification" is not a console sign-in event whose detail-type can be inferred: export the records with their eventType',
        });
        expect(classifyRecord({ ...worldSsh().detail, eventType: 7 })).toStrictEqual({ kind: 'invalid', error: '"eventType" must be a string such as "AwsApiCall", got 7' });
      });
    });

    it('reports a record that is neither an envelope nor a CloudTrail record', () => {
      expect(classifyRecord({ hello: 'world' })).toStrictEqual({
        kind: 'invalid',
        error: 'neither an EventBridge event (no "detail") nor a CloudTrail record (no "eventName", "eventSource" or "eventID")',
      });
      expect(classifyRecord([1])).toStrictEqual({ kind: 'invalid', error: 'a record must be a JSON object' });
    });
  });

  describe('bad input', () => {
    it('decides the good lines of a JSON Lines file and reports each bad one with its file and line', async () => {
      const good = JSON.stringify(worldSsh().detail);
      const text = [good, 'not json at all', '{"eventName":"AuthorizeSecurityGroupIngress","cut":"here', '{"eventName": 1, "broken": tru}', '[1, 2]', '', good].join('\n');
      const file = write('bad/mixed.jsonl', `${text}\n`);

      const lines = await decideAllRecords(await collect(readRecords([file])));

      expect(lines.map((line) => (line.verdict === 'invalid' ? [line.source, line.error] : [line.source, line.verdict]))).toStrictEqual([
        [`${file}:1`, 'violation'],
        [`${file}:2`, 'a record must be a JSON object; the rest of the line is skipped'],
        [`${file}:3`, 'a string is not closed on its line (record starting on line 3); the rest of the line is skipped'],
        [`${file}:4`, expect.stringMatching(/^not JSON: /)],
        [`${file}:5:[0]`, 'a record must be a JSON object'],
        [`${file}:5:[1]`, 'a record must be a JSON object'],
        [`${file}:7`, 'violation'],
      ]);
    });

    it('reports a truncated gzip log file and keeps the records read before the cut', async () => {
      const records = Array.from({ length: 400 }, (_, index) => ({ ...worldSsh().detail, eventID: `evt-${index}` }));
      const whole = gzipSync(JSON.stringify({ Records: records }));
      const file = write('bad/truncated.json.gz', whole.subarray(0, Math.floor(whole.length / 2)));

      const read = await collect(readRecords([file]));
      const last = read.at(-1);

      expect(read.length).toBeGreaterThan(1);
      expect(read.slice(0, -1).every((record) => 'value' in record)).toBe(true);
      expect(last).toMatchObject({ origin: file, unreadable: true });
      expect(last && 'error' in last ? last.error : '').toMatch(/^unreadable: .*unexpected end of file; the rest of the input is skipped$/);
    });

    it('reports a path that does not exist and goes on with the others', async () => {
      const missing = join(temp, 'no-such-file.json');
      const good = write('bad/good.json', JSON.stringify(worldSsh()));

      const records = await collect(readRecords([missing, good]));

      expect(records).toHaveLength(2);
      expect(records[0]).toMatchObject({ origin: missing, unreadable: true, error: expect.stringMatching(/^unreadable: ENOENT/) });
      expect(records[1]).toStrictEqual({ origin: good, value: worldSsh() });
    });
  });

  it('reads a small file whole, and gives the records and errors a stream of the same bytes gives', async () => {
    const log = JSON.stringify({ Records: [worldSsh().detail, privatePostgres().detail] });
    const gz = gzipSync(log);
    const files: Record<string, Buffer> = {
      'gzip.json.gz': gz,
      'truncated.json.gz': gz.subarray(0, gz.length - 40),
      'trailing-garbage.json.gz': Buffer.concat([gz, Buffer.from('not gzip')]),
      'two-members.json.gz': Buffer.concat([gzipSync('{"Records":['), gzipSync(`${JSON.stringify(worldSsh().detail)}]}`)]),
      'plain.json': Buffer.from(log),
      // Small as stored, yet inflating past what is inflated in one call: streamed instead.
      'spaces.json.gz': gzipSync(Buffer.concat([Buffer.from('{"Records":['), Buffer.alloc(70 * 1024 * 1024, 0x20), Buffer.from(`${JSON.stringify(worldSsh().detail)}]}`)])),
      'empty.json.gz': Buffer.alloc(0),
    };
    for (const [name, bytes] of Object.entries(files)) {
      expect(bytes.length).toBeLessThanOrEqual(WHOLE_FILE_BYTES);
      const path = write(`whole/${name}`, bytes);
      const streamed = await collect(readSource(Readable.from([bytes]), path));
      expect(await collect(readRecords([path])), name).toStrictEqual(streamed);
    }
  });

  describe('the event-name gate', () => {
    it('is the union of the exact event names of every rule pattern', () => {
      const names = new Set(allRules.flatMap((rule) => rule.triggers.flatMap((trigger) => trigger.eventNames)));
      const everyRule = eventNameGate(allRules);

      expect(everyRule?.names).toStrictEqual(names);
      expect(everyRule?.maxLength).toBe(Math.max(...[...names].map((name) => name.length)));
      expect(gate.names).toStrictEqual(new Set(['AssumeRole', 'AuthorizeSecurityGroupIngress', 'CreateRole', 'ModifySecurityGroupRules']));
    });

    it('needs, for a name every pattern narrows by a request field, the longest literal of its wildcard', () => {
      expect(gate.literals).toStrictEqual(new Map([['AssumeRole', [Buffer.from(':role/remediation-bot/')]]]));
      expect(requiredLiterals({ eventName: ['X'], requestParameters: { roleArn: [{ wildcard: 'arn:*:iam::*:role/remediation-bot/*' }] } })).toStrictEqual([':role/remediation-bot/']);
      // Too short to be worth a search, an operator it cannot read, or a quote a string would escape: nothing is required.
      expect(requiredLiterals({ requestParameters: { roleArn: [{ wildcard: 'arn:*:x*' }] } })).toBeUndefined();
      expect(requiredLiterals({ requestParameters: { roleArn: [{ prefix: 'arn:aws:iam::' }] } })).toBeUndefined();
      expect(requiredLiterals({ requestParameters: { name: ['say "hello" there'] } })).toBeUndefined();
      // One field's requirement suffices; several allowed values need one of their literals each.
      expect(requiredLiterals({ requestParameters: { a: [{ prefix: 'x' }], b: ['exactly-this-name', { wildcard: '*another-literal*' }] } })).toStrictEqual(['exactly-this-name', 'another-literal']);
      // A name that some pattern lists without a request field needs no literal.
      const unconditional = eventNameGate([...sgRules, { ...(sgRules[1] as (typeof sgRules)[number]), id: 'plain-assume', triggers: [{ eventSource: 'sts.amazonaws.com', eventNames: ['AssumeRole'] }] }]);
      expect(unconditional?.literals).toBeUndefined();
    });

    it('is not derived when a pattern does not pin detail.eventName to exact strings', () => {
      expect(requiredEventNames({ eventSource: ['ec2.amazonaws.com'] })).toBeUndefined();
      expect(requiredEventNames({ eventName: [{ prefix: 'Authorize' }] })).toBeUndefined();
      expect(requiredEventNames({ $or: [{ eventName: ['A'] }, { eventSource: ['x'] }] })).toBeUndefined();
      expect(requiredEventNames({ $or: [{ eventName: ['A'] }, { eventName: ['B', 'C'] }] })).toStrictEqual(new Set(['A', 'B', 'C']));
    });

    it('drops only records whose event name no rule lists, and counts them as read', async () => {
      const noise = { ...worldSsh().detail, eventName: 'PutObject', eventSource: 's3.amazonaws.com' };
      const text = JSON.stringify({ Records: [noise, worldSsh().detail, noise] });
      const scanner = new RecordScanner(gate);

      scanner.push(Buffer.from(text));
      scanner.end();

      expect(scanner.records).toBe(3);
      expect(scanner.dropped).toBe(2);
      expect(scanner.items.map((item) => (item.kind === 'record' ? item.index : item.message))).toStrictEqual([1]);
    });

    it('drops, unparsed, a name its patterns narrow only when the record provably lacks the literal: plainly written, without escapes', async () => {
      const assume = (roleArn: string, userAgent = 'aws-cli/2') =>
        `{"eventVersion":"1.08","eventTime":"2025-03-04T10:15:00Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"us-east-1","userAgent":"${userAgent}","userIdentity":{"type":"IAMUser","arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333"},"requestParameters":{"roleArn":"${roleArn}","roleSessionName":"s"},"eventID":"${randomUUID()}","recipientAccountId":"111122223333"}`;
      const records = [
        assume('arn:aws:iam::111122223333:role/app-backend'),
        assume('arn:aws:iam::111122223333:role/remediation-bot/x'),
        assume('arn:aws:iam::111122223333:role\\/remediation-bot\\/x'),
        assume('arn:aws:iam::111122223333:role/app', 'note :role/remediation-bot/'),
        assume('arn:aws:iam::111122223333:role/app', 'escaped \\u0041'),
        // JSON.parse keeps the last of duplicate keys: here a list that names another rule's event.
        assume('arn:aws:iam::111122223333:role/app').replace('"eventSource":"sts.amazonaws.com"', '"eventSource":"ec2.amazonaws.com"').replace(/}$/, ',"eventName":["PutObject","AuthorizeSecurityGroupIngress"]}'),
      ];
      const text = `{"Records":[${records.join(',')}]}`;
      const scanner = new RecordScanner(gate);
      scanner.push(Buffer.from(text));
      scanner.end();

      // Only the first lacks both the literal and any backslash, and has one event name.
      expect(scanner.dropped).toBe(1);
      expect(scanner.items.map((item) => (item.kind === 'record' ? item.index : item.message))).toStrictEqual([1, 2, 3, 4, 5]);
      const decided = await replayText(text, 'x', true);
      const reference = await decideAllRecords((JSON.parse(text) as { Records: unknown[] }).Records.map((value) => ({ origin: 'x', value })));
      expect(decided.lines.map((line) => [('rule' in line ? line.rule : undefined), line.verdict])).toStrictEqual(reference.map((line) => [('rule' in line ? line.rule : undefined), line.verdict]));
      expect(decided.lines.filter((line) => line.verdict === 'violation')).toHaveLength(2);
    });

    /** Record texts built by hand, to reach what JSON.stringify never writes: duplicate keys, escaped keys, odd values. */
    const eventNameValue = fc.oneof(
      fc.constantFrom('AuthorizeSecurityGroupIngress', 'ModifySecurityGroupRules', 'AssumeRole', 'AssumeRole', 'PutObject', 'Decrypt', 'authorizesecuritygroupingress', 'AuthorizeSecurityGroupIngres', 'DescribeSecurityGroups').map((name) => JSON.stringify(name)),
      fc.constantFrom('"Authorize\\u0053ecurityGroupIngress"', '["PutObject","AuthorizeSecurityGroupIngress"]', '["PutObject"]', '42', 'null', '{"name":"AuthorizeSecurityGroupIngress"}', '"Put\\"Object"'),
    );
    /** `requestParameters.roleArn` as written: on the bot's path or not, plainly or with escapes that hide the literal from a byte search. */
    const roleArnText = fc.constantFrom(
      '"arn:aws:iam::111122223333:role/remediation-bot/remediation-bot-ec2"',
      '"arn:aws:iam::111122223333:role\\/remediation-bot\\/remediation-bot-ec2"',
      '"arn:aws:iam::111122223333:role/remediation\\u002dbot/x"',
      '"arn:aws:iam::111122223333:role/app-backend"',
      '["arn:aws:iam::111122223333:role/app", "arn:aws:iam::111122223333:role/remediation-bot/y"]',
    );
    const eventNameKey = fc.constantFrom('"eventName"', '"eventName"', '"eventName"', '"event\\u004eame"', '"eventname"');
    /** Whitespace between tokens; line breaks only where the layout is a JSON document. */
    const recordText = (multiline: boolean) =>
      fc
        .record({
          names: fc.array(fc.tuple(eventNameKey, eventNameValue), { minLength: 0, maxLength: 3 }),
          nested: fc.boolean(),
          envelope: fc.boolean(),
          lookupEntry: fc.boolean(),
          space: multiline ? fc.constantFrom('', ' ', '\t', '\n  ') : fc.constantFrom('', ' ', '\t'),
          eventID: fc.uuid(),
          assume: fc.option(roleArnText),
          decoy: fc.boolean(),
        })
        .map(({ names, nested, envelope, lookupEntry, space, eventID, assume, decoy }) => {
          const base = { ...worldSsh().detail, eventID } as Record<string, unknown>;
          delete base['eventName'];
          // The literal elsewhere in the record than in the field the pattern reads.
          if (decoy) base['userAgent'] = 'console.amazonaws.com :role/remediation-bot/';
          if (assume !== null) base['eventSource'] = 'sts.amazonaws.com';
          const pairs = Object.entries(base).map(([key, value]) =>
            key === 'requestParameters' && assume !== null
              ? `"requestParameters":${space}{"roleArn":${space}${assume},"roleSessionName":"s"}`
              : `${JSON.stringify(key)}:${space}${JSON.stringify(nested && key === 'requestParameters' ? { ...(value as object), eventName: 'AuthorizeSecurityGroupIngress' } : value)}`,
          );
          pairs.splice(2, 0, ...names.map(([key, value]) => `${key}${space}:${space}${value}`));
          const raw = `{${space}${pairs.join(`,${space}`)}}`;
          if (lookupEntry) return JSON.stringify({ EventId: eventID, EventName: 'PutObject', CloudTrailEvent: raw });
          if (!envelope) return raw;
          const { detail: _detail, ...head } = worldSsh();
          return `{"version":"0","id":${JSON.stringify(head.id)},"detail-type":"AWS API Call via CloudTrail","source":"aws.ec2","account":"111122223333","time":"2025-03-04T10:15:00Z","region":"us-east-1","resources":[],"detail":${space}${raw}}`;
        });
    const layout = fc.constantFrom('lines', 'records', 'array', 'records-pretty');

    function fileText(records: readonly string[], shape: string): string {
      switch (shape) {
        case 'lines':
          return `${records.join('\n')}\n`;
        case 'records':
          return `{"Records":[${records.join(',')}]}`;
        case 'array':
          return `[\n${records.join(',\n')}\n]\n`;
        default:
          return `{\n  "Records": [\n${records.map((record) => `    ${record}`).join(',\n')}\n  ]\n}\n`;
      }
    }

    // GATE_RUNS=5000 explores further.
    it('gives exactly the decisions of a full JSON.parse of every record, whatever the keys, layout and chunk boundaries', async () => {
      await fc.assert(
        fc.asyncProperty(
          layout.chain((shape) => fc.tuple(fc.constant(shape), fc.array(recordText(shape !== 'lines'), { minLength: 1, maxLength: 6 }))),
          fc.array(fc.integer({ min: 1, max: 700 }), { maxLength: 40 }),
          async ([shape, records], chunks) => {
          const text = fileText(records, shape);
          // The reference reads the file with one JSON.parse, outside the scanner.
          const document: unknown = shape === 'lines' ? records.map((record) => JSON.parse(record) as unknown) : JSON.parse(text);
          const list = Array.isArray(document) ? document : (document as { Records: unknown[] }).Records;
          const reference = await decideAllRecords(list.map((value) => ({ origin: 'x', value })));

          const gated = await replayText(text, 'x', true, chunks);
          const ungated = await replayText(text, 'x', false);

          const strip = (lines: readonly ReplayLine[]) => lines.map(({ source: _source, ...rest }) => rest);
          expect(strip(gated.lines)).toStrictEqual(strip(reference));
          expect(gated.lines).toStrictEqual(ungated.lines);
          expect(gated.records).toBe(list.length);
          },
        ),
        { numRuns: Number(process.env['GATE_RUNS'] ?? 200) },
      );
    });

    it('cuts the same records whatever the chunk boundaries', async () => {
      const text = JSON.stringify({ Records: [worldSsh().detail, { ...worldSsh().detail, errorMessage: 'a "quoted" \\ back\\slash' }, privatePostgres().detail] });
      const whole = await replayText(text, 'f', true);

      await fc.assert(
        fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 200 }), async (chunks) => {
          expect(await replayText(text, 'f', true, chunks)).toStrictEqual(whole);
        }),
        { numRuns: 100 },
      );
    });
  });
});
