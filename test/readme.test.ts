/** A rule that is not documented does not exist for users: the README's rule reference is checked against the registry. */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { allRules } from '../remediations/registry.js';

const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');

function section(id: string): string {
  const start = readme.indexOf(`### \`${id}\``);
  if (start < 0) return '';
  const next = readme.slice(start + 1).search(/\n##+ /);
  return next < 0 ? readme.slice(start) : readme.slice(start, start + 1 + next);
}

describe('README rule reference', () => {
  it.each(allRules.map((rule) => [rule.id, rule] as const))('documents %s with its title, triggers and permissions', (id, rule) => {
    const text = section(id);
    expect(text, `README has no section for ${id}`).not.toBe('');
    expect(text).toContain(rule.title);
    for (const name of rule.triggers.flatMap((t) => t.eventNames)) expect(text, `${id}: trigger ${name}`).toContain(name);
    for (const permission of rule.permissions) expect(text, `${id}: permission ${permission.action}`).toContain(permission.action);
    expect(text).toContain('Never touches');
  });

  it('gives the two quick-start commands in its first section', () => {
    const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## How it works'));
    expect(quickStart).toContain('npm ci && npm start');
    expect(quickStart).toContain('npm ci && npm test');
  });
});
