/** ARN globs (`*` any run, `?` one character), as used for ignored and bot principals. */
const compiled = new Map<string, RegExp>();

export function globToRegExp(glob: string, flags = ''): RegExp {
  const key = `${flags}\u0000${glob}`;
  let regex = compiled.get(key);
  if (!regex) {
    const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*').replaceAll('?', '.');
    regex = new RegExp(`^${body}$`, flags);
    compiled.set(key, regex);
  }
  return regex;
}

export function matchesAnyGlob(value: string, globs: readonly string[]): string | undefined {
  return globs.find((glob) => globToRegExp(glob).test(value));
}

/** EventBridge's `wildcard` operator: `*` is any run of characters, everything else (`?` included) is literal. */
export function wildcardMatches(value: string, wildcard: string): boolean {
  const body = wildcard.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*');
  return new RegExp(`^${body}$`, 's').test(value);
}
