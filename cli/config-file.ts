/** Reads `remediation.config.yml` (or the file `--config` names) and validates it against the whole registry. */
import { existsSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError, parseConfig, type Config } from '../engine/config.js';
import type { Rule } from '../engine/types.js';

const DEFAULT_CONFIG_FILE = 'remediation.config.yml';

export function loadConfigFile(path: string | undefined, rules: readonly Rule[]): Config {
  const file = path ?? (existsSync(DEFAULT_CONFIG_FILE) ? DEFAULT_CONFIG_FILE : undefined);
  if (!file) return parseConfig({}, rules, { rejectUnknownRules: true });
  let raw: unknown;
  try {
    raw = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ConfigError([`${file}: ${error instanceof Error ? error.message : String(error)}`], { cause: error });
  }
  try {
    return parseConfig(raw, rules, { rejectUnknownRules: true });
  } catch (error) {
    if (error instanceof ConfigError) throw new ConfigError(error.problems.map((problem) => `${file}: ${problem}`), { cause: error });
    throw error;
  }
}
