/**
 * zod issues as short sentences that name the field and what was wrong. Its
 * own module, so that a bundle which only validates (the notifier) does not
 * pull in the CloudTrail event schemas with it.
 */
export interface Issue {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly expected?: unknown;
  readonly values?: readonly unknown[];
  readonly keys?: readonly string[];
  readonly minimum?: unknown;
  readonly inclusive?: boolean;
  readonly origin?: string;
  readonly input?: unknown;
  readonly message?: string;
}

function describeInput(input: unknown): string {
  if (input === undefined) return 'missing';
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'array';
  return typeof input;
}

/** A short rendering of a bad value: scalars as JSON, anything else by its kind (a hostile value may be huge or deeply nested). */
function shortJson(input: unknown): string {
  if (input === undefined) return 'missing';
  if (input === null || typeof input === 'string' || typeof input === 'number' || typeof input === 'boolean') return JSON.stringify(input).slice(0, 60);
  return describeInput(input);
}

/** zod/mini ships without locale messages: say plainly which field was wrong and how. */
export function formatIssues(issues: readonly Issue[]): string[] {
  return issues.map((issue) => {
    const where = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
    switch (issue.code) {
      case 'invalid_type':
        return `${where}: expected ${String(issue.expected)}, got ${describeInput(issue.input)}`;
      case 'invalid_value':
        return `${where}: expected one of ${(issue.values ?? []).map((v) => JSON.stringify(v)).join(', ')}, got ${shortJson(issue.input)}`;
      case 'unrecognized_keys':
        return `${where}: unknown key(s) ${(issue.keys ?? []).map((k) => `"${k}"`).join(', ')}`;
      case 'too_small':
        if (issue.message !== undefined && issue.message !== 'Invalid input') return `${where}: ${issue.message}`;
        if (issue.origin === 'number') return `${where}: must be ${issue.inclusive === false ? 'more than' : 'at least'} ${String(issue.minimum)}`;
        return `${where}: must not be empty`;
      default:
        return `${where}: ${issue.message && issue.message !== 'Invalid input' ? issue.message : issue.code.replaceAll('_', ' ')}`;
    }
  });
}

