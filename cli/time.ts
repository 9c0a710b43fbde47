/**
 * Times on the command line (`--since`, `--until` of `replay` and `history`):
 * a duration before now (`7d`, `12h`), or ISO 8601, a date or a date-time
 * with a zone (`2025-03-01`, `2025-03-01T12:00:00Z`).
 */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/;
const RELATIVE_TIME = /^(\d{1,5})([dh])$/;

/** `value` in epoch milliseconds (a duration counts back from `now`, when `relative` allows one), or `undefined` when it is neither form. */
export function timeOf(value: string, now: number, relative = true): number | undefined {
  const ago = relative ? RELATIVE_TIME.exec(value) : null;
  if (ago) return now - Number(ago[1]) * (ago[2] === 'd' ? 86_400_000 : 3_600_000);
  const time = ISO_TIME.test(value) ? Date.parse(value) : Number.NaN;
  return Number.isNaN(time) ? undefined : time;
}
