/**
 * The replay suite: every recorded event in `events/` runs through the dry-run
 * path, and the decisions are compared with `test/expected/replay.jsonl`, kept
 * in the repo so a change in behaviour shows up as a readable diff.
 * Regenerate after an intended change: UPDATE_EXPECTED=1 npx vitest run test/replay.test.ts
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../engine/config.js';
import { readRecords } from '../cli/inputs.js';
import { replayRecord, type ReplayLine } from '../cli/replay.js';
import { allRules, rulesByFamily } from '../remediations/registry.js';
import { EVENTS_DIR } from './helpers/fixtures.js';

const EXPECTED = join(import.meta.dirname, 'expected', 'replay.jsonl');

/**
 * The identity of the deployment the recorded events come from (stage `prod`
 * in us-east-1 of account 111122223333), as the stack's `BotPrincipals` and
 * `BotSessionNames` outputs give it: with it the replay skips the bot's own
 * calls exactly as the deployed functions do.
 */
const families = Object.keys(rulesByFamily);
const BOT_ENV = {
  BOT_PRINCIPALS: families.map((family) => `arn:aws:iam::111122223333:role/remediation-bot/remediation-bot-prod-us-east-1-${family}`).join(','),
  BOT_SESSION_NAMES: families.map((family) => `remediation-bot-prod-${family}`).join(','),
};

async function replayAll(): Promise<ReplayLine[]> {
  const config = parseConfig({}, allRules);
  const lines: ReplayLine[] = [];
  for await (const record of readRecords([EVENTS_DIR])) {
    const origin = { ...record, origin: record.origin.slice(EVENTS_DIR.length + 1) };
    lines.push(...(await replayRecord(origin, { rules: allRules, config, env: BOT_ENV })));
  }
  return lines;
}

describe('replay of events/', () => {
  it('decides every recorded event exactly as recorded in test/expected/replay.jsonl', async () => {
    const actual = (await replayAll()).map((line) => JSON.stringify(line)).join('\n') + '\n';
    if (process.env['UPDATE_EXPECTED'] === '1') writeFileSync(EXPECTED, actual);
    expect(actual).toBe(readFileSync(EXPECTED, 'utf8'));
  });

  it('gives the same decisions when replayed twice', async () => {
    expect(await replayAll()).toStrictEqual(await replayAll());
  });
});
