/** A logger that records every line, so tests can assert on logs (and on what must never be logged). */
import type { EngineLogger } from '../../engine/lambda.js';

export interface RecordingLogger extends EngineLogger {
  readonly lines: { level: string; message: string; extra: Record<string, unknown> }[];
  readonly keys: Record<string, unknown>;
}

export function recordingLogger(): RecordingLogger {
  const lines: RecordingLogger['lines'] = [];
  const keys: Record<string, unknown> = {};
  const log = (level: string) => (message: string, ...extra: Record<string, unknown>[]) => {
    lines.push({ level, message, extra: Object.assign({}, keys, ...extra) as Record<string, unknown> });
  };
  return {
    lines,
    keys,
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    appendKeys: (more) => Object.assign(keys, more),
    removeKeys: (names) => names.forEach((name) => delete keys[name]),
  };
}
