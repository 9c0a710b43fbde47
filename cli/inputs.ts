/**
 * Replay inputs: files and directories (recursively) holding EventBridge
 * envelopes as one JSON object, a JSON array, or JSON Lines. Every record
 * carries its origin (file and line or index) so a bad one can be reported and skipped.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

export type InputRecord =
  | { readonly origin: string; readonly value: unknown }
  | { readonly origin: string; readonly error: string };

const RECORD_FILE = /\.(json|jsonl|ndjson)$/i;

async function walk(directory: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of (await readdir(directory, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    const path = join(directory, entry.name);
    if (entry.isDirectory()) files.push(...(await walk(path)));
    else if (RECORD_FILE.test(entry.name)) files.push(path);
  }
  return files;
}

/** Expands paths into files: a named file is read whatever its name; directories are walked for record files, sorted. */
export async function listFiles(paths: readonly string[]): Promise<string[]> {
  const files: string[] = [];
  for (const path of paths) {
    if ((await stat(path)).isDirectory()) files.push(...(await walk(path)));
    else files.push(path);
  }
  return files;
}

/** Splits a file's text into records: a JSON document (object or array) or, failing that, JSON Lines. */
export function* recordsFromText(text: string, file: string): Generator<InputRecord> {
  const trimmed = text.trim();
  if (trimmed.length === 0) return;
  try {
    const document: unknown = JSON.parse(trimmed);
    if (Array.isArray(document)) {
      for (const [index, value] of document.entries()) yield { origin: `${file}[${index}]`, value };
    } else {
      yield { origin: file, value: document };
    }
    return;
  } catch {
    // Not one document: read it as JSON Lines below.
  }
  const lines = text.split('\n');
  for (const [index, line] of lines.entries()) {
    if (line.trim().length === 0) continue;
    const origin = `${file}:${index + 1}`;
    try {
      yield { origin, value: JSON.parse(line) as unknown };
    } catch (error) {
      yield { origin, error: `not JSON: ${error instanceof Error ? error.message : String(error)}` };
    }
  }
}

export async function* readRecords(paths: readonly string[]): AsyncGenerator<InputRecord> {
  for (const file of await listFiles(paths)) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      yield { origin: file, error: `unreadable: ${error instanceof Error ? error.message : String(error)}` };
      continue;
    }
    yield* recordsFromText(text, file);
  }
}
