/**
 * A rule that is not documented does not exist for users: the rule reference
 * (`docs/rules.md`) is checked against the registry. The README is the front
 * door: its quick start, its links and its Guarantees table (every test it
 * names exists, with the title quoted) are checked here too.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { iamActionFor } from '../engine/iam-actions.js';
import type { Rule } from '../engine/types.js';
import { allRules } from '../remediations/registry.js';
import { runCli } from './helpers/cli.js';

const root = join(import.meta.dirname, '..');
const read = (path: string) => readFileSync(join(root, path), 'utf8');
const readme = read('README.md');
const rulesDoc = read('docs/rules.md');
const guaranteesDoc = read('docs/guarantees.md');
const docs = ['README.md', ...readdirSync(join(root, 'docs')).filter((name) => name.endsWith('.md')).map((name) => `docs/${name}`)];

/** The text of a level-2 section, from its heading to the next one. */
function level2Section(text: string, title: string): string {
  const start = text.indexOf(`\n## ${title}\n`);
  if (start < 0) return '';
  const next = text.indexOf('\n## ', start + 1);
  return next < 0 ? text.slice(start) : text.slice(start, next);
}

/** A rule's section of the rule reference: from `#### \`id\`` to the next heading. */
function ruleSection(id: string): string {
  const start = rulesDoc.indexOf(`\n#### \`${id}\`\n`);
  if (start < 0) return '';
  const next = rulesDoc.slice(start + 1).search(/\n#{2,4} /);
  return next < 0 ? rulesDoc.slice(start) : rulesDoc.slice(start, start + 1 + next);
}

/** The keys of a rule's settings schema (a zod/mini object), `mode` aside: every rule has that one. */
function settingKeys(rule: Rule): string[] {
  const shape = (rule.settings as { _zod?: { def?: { shape?: Record<string, unknown> } } } | undefined)?._zod?.def?.shape ?? {};
  return Object.keys(shape).filter((key) => key !== 'mode');
}

/** Markdown link targets outside code: inline code and fenced blocks may show link-like text. */
function linkTargets(markdown: string): string[] {
  const prose = markdown.replace(/```[\s\S]*?```/g, '').replace(/`[^`\n]*`/g, '``');
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((match) => match[1] ?? '');
}

/** How a test title can be written in TypeScript source, as a whole string literal: as it reads, with escaped quotes, or with `\u` escapes. */
function sourceSpellings(title: string): string[] {
  const unicodeEscaped = title.replace(/[^\x20-\x7e]/g, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return [...new Set([title, unicodeEscaped])].flatMap((spelling) => [
    `'${spelling.replace(/'/g, "\\'")}'`,
    `"${spelling.replace(/"/g, '\\"')}"`,
    `\`${spelling}\``,
  ]);
}

/** Each row of the guarantees table (docs/guarantees.md): the test files it links and the titles quoted after each, “like this”. */
function guaranteeRows(): { guarantee: string; proofs: { file: string; titles: string[] }[] }[] {
  const rows = guaranteesDoc.split('\n').filter((line) => line.startsWith('| **'));
  return rows.map((row) => {
    const cells = row.split(' | ');
    const guarantee = /\*\*(.+?)\*\*/.exec(cells[0] ?? '')?.[1] ?? row;
    const proven = cells.at(-1) ?? '';
    const proofs = [...proven.matchAll(/\]\(\.\.\/(test\/[^)]+)\)([^[]*)/g)].map((match) => ({
      file: match[1] ?? '',
      titles: [...(match[2] ?? '').matchAll(/“([^”]+)”/g)].map((title) => title[1] ?? ''),
    }));
    return { guarantee, proofs };
  });
}

describe('rule reference (docs/rules.md)', () => {
  it.each(allRules.map((rule) => [rule.id, rule] as const))('documents %s with its title, triggers and permissions', (id, rule) => {
    const text = ruleSection(id);
    expect(text, `docs/rules.md has no section for ${id}`).not.toBe('');
    expect(text).toContain(rule.title);
    for (const name of rule.triggers.flatMap((t) => t.eventNames)) expect(text, `${id}: trigger ${name}`).toContain(name);
    for (const permission of rule.permissions) expect(text, `${id}: permission ${permission.action}`).toContain(permission.action);
    expect(text).toContain('**Changes automatically');
    expect(text).toContain('**Never touches:**');
  });

  it.each(allRules.map((rule) => [rule.id, rule] as const))('names every setting of %s in its Settings line', (id, rule) => {
    const settingsLine = ruleSection(id).split('\n').find((line) => line.startsWith('- **Settings:**'));
    expect(settingsLine, `${id}: no "- **Settings:**" line`).toBeDefined();
    const keys = settingKeys(rule);
    if (keys.length === 0) expect(settingsLine).toMatch(/^- \*\*Settings:\*\* none\b/);
    for (const key of keys) expect(settingsLine, `${id}: setting ${key}`).toContain(`\`${key}`);
  });

  it.each(allRules.map((rule) => [rule.id, rule] as const))('gives %s the severity, default mode and every read the rule declares', (id, rule) => {
    const text = ruleSection(id);
    expect(text).toContain(`severity at most ${rule.severity}, default mode \`${rule.defaultMode ?? 'propose'}\``);
    const reads = [...(rule.lookups ?? []).map((lookup) => lookup.permission), ...(rule.probes ?? []).map((probe) => iamActionFor(probe.service, probe.operation))];
    for (const action of new Set(reads)) expect(text, `${id}: read ${action}`).toContain(action);
  });

  it('documents no rule the registry does not have', () => {
    const documented = [...rulesDoc.matchAll(/\n#### `([a-z0-9-]+)`\n/g)].map((match) => match[1]);
    expect(documented.sort()).toStrictEqual(allRules.map((rule) => rule.id).sort());
  });
});

describe('README', () => {
  it('gives the two quick-start commands in its first section', () => {
    const quickStart = level2Section(readme, 'Quick start');
    expect(quickStart).toContain('npm ci && npm start');
    expect(quickStart).toContain('npm ci && npm test');
  });

  it('links every page of docs/ from its documentation index', () => {
    const index = level2Section(readme, 'Documentation');
    for (const page of docs.filter((path) => path.startsWith('docs/'))) expect(index, page).toContain(`](${page})`);
  });

  it('quotes what npm start prints exactly (every line of its excerpt is a line of the replay of events/ at 100 columns)', async () => {
    const section = level2Section(readme, 'Quick start');
    const excerpt = /```text\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    const lines = excerpt.split('\n').filter((line) => line !== '' && line !== '…');
    expect(lines.length).toBeGreaterThan(10);
    const { code, stdout } = await runCli(['replay', 'events', '--format', 'table', '--width', '100']);
    expect(code).toBe(0);
    const printed = new Set(stdout.join('\n').split('\n'));
    expect(lines.filter((line) => !printed.has(line))).toStrictEqual([]);
  });

  it('quotes the email alert exactly as the bot renders it (test/expected/email/applied.txt)', () => {
    const section = level2Section(readme, 'What an alert looks like');
    const excerpt = /```text\n([\s\S]*?)```/.exec(section)?.[1] ?? '';
    const rendered = new Set(read('test/expected/email/applied.txt').split('\n'));
    const lines = excerpt.split('\n').filter((line) => line !== '');
    expect(lines.length).toBeGreaterThan(5);
    expect(lines.filter((line) => !rendered.has(line))).toStrictEqual([]);
  });

  it('summarises the guarantees and links the page that proves each (docs/guarantees.md)', () => {
    const section = level2Section(readme, 'Guarantees');
    expect(section.split('\n').filter((line) => line.startsWith('- **')).length).toBeGreaterThanOrEqual(5);
    expect(section).toContain('](docs/guarantees.md)');
  });

  it.each([
    ['README.md', readme, 'docs/rules.md#'],
    ['docs/rules.md', rulesDoc, '#'],
  ])('lists, in the rule index of %s, every rule with its family, severity and default mode', (_, text, anchor) => {
    const rows = new Map(
      text
        .split('\n')
        .map((line) => /^\| \[`([a-z0-9-]+)`\]\(([^)]+)\) \| ([a-z0-9-]+) \| ([a-z]+) \| ([a-z]+)(?: \([^)|]*\))? \|/.exec(line))
        .filter((match) => match !== null)
        .map((match) => [match[1] ?? '', { link: match[2], family: match[3], severity: match[4], mode: match[5] }]),
    );
    expect([...rows.keys()].sort()).toStrictEqual(allRules.map((rule) => rule.id).sort());
    for (const rule of allRules) {
      expect(rows.get(rule.id), rule.id).toStrictEqual({ link: `${anchor}${rule.id}`, family: rule.family, severity: rule.severity, mode: rule.defaultMode ?? 'propose' });
    }
  });
});

describe('guarantees (docs/guarantees.md)', () => {
  it('names, in its table, test files that exist and hold each quoted test title', () => {
    const rows = guaranteeRows();
    expect(rows.length).toBeGreaterThanOrEqual(15);
    for (const { guarantee, proofs } of rows) {
      expect(proofs.length, `${guarantee}: no test linked`).toBeGreaterThan(0);
      for (const { file, titles } of proofs) {
        expect(existsSync(join(root, file)), `${guarantee}: ${file} does not exist`).toBe(true);
        expect(titles.length, `${guarantee}: no test title quoted after ${file}`).toBeGreaterThan(0);
        const source = read(file);
        for (const title of titles) {
          expect(
            sourceSpellings(title).some((spelling) => source.includes(spelling)),
            `${guarantee}: ${file} has no test titled “${title}”`,
          ).toBe(true);
        }
      }
    }
  });
});

/** The anchors GitHub gives a Markdown file's headings: lower case, punctuation dropped, spaces as hyphens. */
function anchorsOf(markdown: string): Set<string> {
  const headings = markdown.replace(/```[\s\S]*?```/g, '').match(/^#{1,6} .+$/gm) ?? [];
  return new Set(headings.map((heading) => heading.replace(/^#+ /, '').toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-')));
}

describe('links', () => {
  it.each(docs)('every relative link in %s points to an existing file, and to an existing heading', (path) => {
    const broken = linkTargets(read(path))
      .filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target))
      .filter((target) => {
        const [file = '', anchor] = target.split('#');
        const resolved = file === '' ? join(root, path) : resolve(root, dirname(path), decodeURI(file));
        if (!existsSync(resolved)) return true;
        return anchor !== undefined && resolved.endsWith('.md') && !anchorsOf(readFileSync(resolved, 'utf8')).has(anchor);
      });
    expect(broken).toStrictEqual([]);
  });
});
