/**
 * "Did you mean …?" for the CLI's usage errors: the known name closest to
 * what was typed (an option, a command, a rule id), when one is close enough.
 */

/** Optimal string alignment distance: insertions, deletions, substitutions and adjacent transpositions each cost 1. */
export function editDistance(a: string, b: string): number {
  const rows = a.length + 1;
  const cols = b.length + 1;
  const d: number[][] = Array.from({ length: rows }, (_, i) => Array.from({ length: cols }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  const at = (i: number, j: number): number => d[i]?.[j] ?? Number.POSITIVE_INFINITY;
  for (let i = 1; i < rows; i++) {
    const row = d[i] as number[];
    for (let j = 1; j < cols; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(at(i - 1, j) + 1, at(i, j - 1) + 1, at(i - 1, j - 1) + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, at(i - 2, j - 2) + 1);
      row[j] = best;
    }
  }
  return at(a.length, b.length);
}

/**
 * The candidate closest to `typed`, or `undefined` when none is close: at most
 * a third of the longer name's length apart (and at least 1 edit allowed), or
 * the only candidate `typed` (3 characters or more) is a prefix of. Case is ignored.
 */
export function closest(typed: string, candidates: readonly string[]): string | undefined {
  const input = typed.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const name of candidates) {
    const distance = editDistance(input, name.toLowerCase());
    const allowed = Math.max(1, Math.floor(Math.max(input.length, name.length) / 3));
    if (distance <= allowed && (best === undefined || distance < best.distance)) best = { name, distance };
  }
  if (best) return best.name;
  const prefixed = input.length >= 3 ? candidates.filter((name) => name.toLowerCase().startsWith(input)) : [];
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** `; did you mean X?` for a close candidate, else the empty string. */
export function didYouMean(typed: string, candidates: readonly string[], render: (name: string) => string = (name) => name): string {
  const match = closest(typed, candidates);
  return match === undefined ? '' : `; did you mean ${render(match)}?`;
}
