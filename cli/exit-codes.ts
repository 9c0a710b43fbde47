/**
 * The one table of the `remediate` CLI's exit codes, for every command. The
 * values are a contract with scripts and CI (see docs/replay.md, "Exit codes").
 */
export const EXIT = {
  /** Success. */
  ok: 0,
  /** Usage or config error; `undo`: not confirmed, or no terminal and no `--yes`. */
  usage: 1,
  /** An input could not be read (the rest was replayed; with `--fail-on`, unless `--allow-invalid`); `invoke`: an invalid event; `undo`: no record, or the record was refused. */
  unreadable: 2,
  /** `--fail-on` and a violation at or above its level was found. */
  failOn: 3,
  /** `invoke`: a remediation failed or AWS answered with an unexpected fault; `undo`: an undo step failed, or the undo could not start or be recorded. */
  failed: 4,
  /** `--fail-on` and the replay read no record (an empty directory, `[]`, `{"Records":[]}`), without `--allow-empty`. */
  noRecords: 5,
  /** `--fail-on` and a record was invalid, without `--allow-invalid`. */
  invalidRecords: 6,
} as const;
