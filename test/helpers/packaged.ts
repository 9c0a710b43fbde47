/**
 * Tests that read the package `npm test` builds (`.serverless/`, by the global
 * setup). With `SKIP_PACKAGE=1` nothing is packaged, so they are skipped
 * rather than left to read a package built from older code.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe } from 'vitest';

export const PACKAGE_SKIPPED = process.env['SKIP_PACKAGE'] === '1';

/** `describe`, skipped when nothing was packaged. */
export const describePackaged = describe.skipIf(PACKAGE_SKIPPED);

/** The packaged CloudFormation template in `dir` (`.serverless`, `.serverless-eu-west-1`); no resources when nothing was packaged. */
export function packagedTemplate<T extends { Resources: Record<string, unknown> }>(dir: string): T {
  if (PACKAGE_SKIPPED) return { Resources: {} } as T;
  return JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', dir, 'cloudformation-template-update-stack.json'), 'utf8')) as T;
}
