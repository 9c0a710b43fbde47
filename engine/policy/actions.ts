/**
 * IAM action patterns: wildcard matching and a coarse classification of how
 * much a pattern grants.
 */

const compiledPatterns = new Map<string, RegExp>();
/** Patterns come from untrusted documents: bound the cache rather than let it grow forever. */
const MAX_CACHED_PATTERNS = 4_096;

function escapeRegExp(text: string): string {
  return text.replace(/[\\^$.*+?()[\]{}|/-]/g, '\\$&');
}

function segmentSource(segment: string): string {
  return segment.split('?').map(escapeRegExp).join('[\\s\\S]');
}

/**
 * Compiles `a*b*c` to `^a(?=([\s\S]*?b))\1[\s\S]*c$`. Each lookahead plus
 * backreference is atomic, so the engine never backtracks into an earlier
 * segment: placing each middle segment at its earliest match is always
 * optimal for globs, and a pattern like `*a*a*a*a*b` cannot blow up.
 */
function compilePattern(pattern: string): RegExp {
  const segments = pattern.split(/\*+/);
  const first = segments[0] ?? '';
  if (segments.length === 1) return new RegExp(`^${segmentSource(first)}$`, 'i');
  const last = segments[segments.length - 1] ?? '';
  const middles = segments
    .slice(1, -1)
    .filter((segment) => segment.length > 0)
    .map((segment, i) => `(?=([\\s\\S]*?${segmentSource(segment)}))\\${i + 1}`)
    .join('');
  return new RegExp(`^${segmentSource(first)}${middles}[\\s\\S]*${segmentSource(last)}$`, 'i');
}

/**
 * Whether an IAM action pattern matches an action: case-insensitive, `*`
 * matches any run of characters (colons included) and `?` exactly one.
 */
export function actionMatches(pattern: string, action: string): boolean {
  if (typeof pattern !== 'string' || typeof action !== 'string') return false;
  let compiled = compiledPatterns.get(pattern);
  if (!compiled) {
    compiled = compilePattern(pattern);
    if (compiledPatterns.size >= MAX_CACHED_PATTERNS) compiledPatterns.clear();
    compiledPatterns.set(pattern, compiled);
  }
  return compiled.test(action);
}

/**
 * How much an action pattern grants:
 * - `all`: every action of every service (`*`, `*:*`);
 * - `service-wide`: every action of one or more services (`s3:*`);
 * - `cross-service`: some actions in every service (`*:Delete*`);
 * - `read-only`: names starting with Describe, Get or List (`ec2:Describe*`, `*:List*`);
 * - `specific`: an action or a wildcard inside one service (`iam:*Policy*`).
 */
type ActionPatternScope = 'all' | 'service-wide' | 'cross-service' | 'read-only' | 'specific';

const WILDCARD_ONLY = /^[*?]*\*[*?]*$/;
const HAS_WILDCARD = /[*?]/;
const READ_ONLY_PREFIX = /^(describe|get|list)/i;

export function classifyActionPattern(pattern: string): ActionPatternScope {
  const colon = pattern.indexOf(':');
  if (colon < 0) {
    if (WILDCARD_ONLY.test(pattern)) return 'all';
    // IAM refuses actions without a service prefix; a wildcard here may span services.
    return HAS_WILDCARD.test(pattern) ? 'cross-service' : 'specific';
  }
  const service = pattern.slice(0, colon);
  const action = pattern.slice(colon + 1);
  if (WILDCARD_ONLY.test(action)) return WILDCARD_ONLY.test(service) ? 'all' : 'service-wide';
  if (READ_ONLY_PREFIX.test(action)) return 'read-only';
  return HAS_WILDCARD.test(service) ? 'cross-service' : 'specific';
}
