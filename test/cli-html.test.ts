/**
 * The `--format html` page in a real browser: headless Chromium (Debian
 * package `chromium`) loads the file, runs its script, and dumps the DOM. The
 * page reads its filters from the address (`#q=…&severity=…&rule=…`), so the
 * dumped DOM shows what a person would see after filtering.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Io } from '../cli/format.js';
import { main } from '../cli/main.js';

const CHROMIUM = '/usr/bin/chromium';
const EVENTS = join(import.meta.dirname, '..', 'events');
const SEVERITY_ORDER = ['critical', 'high', 'medium', 'low'];

async function replay(args: readonly string[]): Promise<string> {
  const out: string[] = [];
  const io: Io = { out: (text) => out.push(text), err: () => undefined, stdoutIsTTY: false, stderrIsTTY: false };
  const code = await main(['replay', ...args], io, {});
  expect(code).toBe(0);
  return out.join('\n');
}

/** The DOM after the page's script ran, for the page at `fragment`. */
async function renderedDom(file: string, fragment: string): Promise<string> {
  const { stdout } = await promisify(execFile)(CHROMIUM, ['--headless', '--no-sandbox', '--disable-gpu', '--dump-dom', `${pathToFileURL(file).href}${fragment}`], {
    timeout: 60_000,
    maxBuffer: 64 * 1024 * 1024,
  });
  return stdout;
}

interface Item {
  readonly severity: string;
  readonly rule: string;
  readonly hidden: boolean;
  readonly text: string;
}

/** Each violation of the dumped DOM, in document order. */
function violations(dom: string): Item[] {
  return dom
    .split('<details ')
    .slice(1)
    .map((chunk) => {
      const tag = chunk.slice(0, chunk.indexOf('>'));
      const body = chunk.slice(0, chunk.indexOf('</details>'));
      return {
        severity: /data-severity="([^"]*)"/.exec(tag)?.[1] ?? '',
        rule: /data-rule="([^"]*)"/.exec(tag)?.[1] ?? '',
        hidden: /\shidden(=""|\s|$)/.test(tag),
        text: body.replace(/<[^>]*>/g, '').toLowerCase(),
      };
    });
}

function shownLine(dom: string): string | undefined {
  return /<output id="shown">([^<]*)<\/output>/.exec(dom)?.[1];
}

const temp = mkdtempSync(join(tmpdir(), 'cli-html-'));
const page = join(temp, 'replay.html');
let expected: { severity: string; rule: string }[] = [];

beforeAll(async () => {
  writeFileSync(page, await replay([EVENTS, '--format', 'html']));
  expected = (await replay([EVENTS, '--format', 'jsonl']))
    .split('\n')
    .map((line) => JSON.parse(line) as { verdict: string; severity: string; rule: string })
    .filter((line) => line.verdict === 'violation');
});

afterAll(() => rmSync(temp, { recursive: true, force: true }));

// CI installs chromium (.ci/run); a machine without it skips, saying why.
describe.skipIf(!existsSync(CHROMIUM))(`the HTML report in headless Chromium${existsSync(CHROMIUM) ? '' : ' (skipped: /usr/bin/chromium is not installed; apt-get install chromium)'}`, () => {
  it('lists every violation, most severe first, all shown without a filter', async () => {
    const dom = await renderedDom(page, '');
    const items = violations(dom);

    expect(items).toHaveLength(expected.length);
    const ranks = items.map((item) => SEVERITY_ORDER.indexOf(item.severity));
    expect(ranks).toStrictEqual([...ranks].sort((a, b) => a - b));
    expect(items.filter((item) => item.hidden)).toStrictEqual([]);
    expect(shownLine(dom)).toBe(`${expected.length} of ${expected.length} violations shown`);
  });

  it('filters by severity and by rule from the address', async () => {
    const dom = await renderedDom(page, '#severity=critical,high&rule=sg-open-ingress');
    const items = violations(dom);
    const wanted = expected.filter((line) => ['critical', 'high'].includes(line.severity) && line.rule === 'sg-open-ingress').length;

    expect(wanted).toBeGreaterThan(0);
    expect(items.filter((item) => !item.hidden).map((item) => item.rule)).toStrictEqual(Array.from({ length: wanted }, () => 'sg-open-ingress'));
    expect(shownLine(dom)).toBe(`${wanted} of ${expected.length} violations shown`);
  });

  it('filters by the text of the filter box', async () => {
    const dom = await renderedDom(page, '#q=user%2Falice');
    const items = violations(dom);
    const visible = items.filter((item) => !item.hidden);

    expect(visible.length).toBeGreaterThan(0);
    expect(visible.length).toBeLessThan(items.length);
    expect(visible.every((item) => item.text.includes('user/alice'))).toBe(true);
    expect(items.filter((item) => item.hidden).some((item) => item.text.includes('user/alice'))).toBe(false);
    expect(shownLine(dom)).toBe(`${visible.length} of ${expected.length} violations shown`);
  });
});
