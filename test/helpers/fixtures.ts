/** Loads recorded events from `events/`. Each call returns a fresh clone, safe to mutate. */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import type { CloudTrailEvent } from '../../engine/event.js';

export const EVENTS_DIR = join(import.meta.dirname, '..', '..', 'events');

const cache = new Map<string, unknown>();

/** `name` is relative to `events/`, for example `ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json`. */
export function loadEvent(name: string): CloudTrailEvent {
  let parsed = cache.get(name);
  if (parsed === undefined) {
    parsed = JSON.parse(readFileSync(join(EVENTS_DIR, name), 'utf8')) as unknown;
    cache.set(name, parsed);
  }
  return structuredClone(parsed) as CloudTrailEvent;
}

function walk(directory: string): string[] {
  return readdirSync(directory)
    .sort()
    .flatMap((entry) => {
      const path = join(directory, entry);
      return statSync(path).isDirectory() ? walk(path) : entry.endsWith('.json') ? [path] : [];
    });
}

/** Every recorded event, as paths relative to `events/`. */
export function allFixtureNames(): string[] {
  return walk(EVENTS_DIR).map((path) => relative(EVENTS_DIR, path));
}
