/**
 * The one way a plan step, an undo step or an API call is written for people:
 * the dry run, `invoke`, `undo`, email, Slack and chat all use it, so a call
 * reads the same everywhere.
 */
import { isStepOutputRef, isUnknownValue, type PlanStep, type Service, type StepOutputRef, type UndoStep, type UnknownValue } from './types.js';

/** The input as a person reads it: `$ref`s become `<step.Field>` and unknowns `<unknown: …>`. */
export function renderInput(value: unknown): unknown {
  if (isStepOutputRef(value)) return `<${value.$ref}>`;
  if (isUnknownValue(value)) return `<unknown: ${value.$unknown}>`;
  if (Array.isArray(value)) return value.map(renderInput);
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, renderInput(item)]));
  return value;
}

/** What a step needs to be described: the call, and where it has them, its id, kind and "already done" evidence. */
interface DescribableStep {
  readonly service: string;
  readonly operation: string;
  readonly input: unknown;
  readonly id?: string;
  readonly kind?: string;
  readonly alreadyDone?: string;
}

/**
 * One line per step: waits are marked, named steps show their id so
 * `<id.Field>` placeholders can be followed, and a step a lookup found
 * already in place says so.
 */
export function describeStep(step: DescribableStep): string {
  const head = `${step.kind === 'wait' ? 'wait ' : ''}${step.service}:${step.operation}${step.id ? ` [${step.id}]` : ''}`;
  return `${head} ${JSON.stringify(renderInput(step.input))}${step.alreadyDone ? ` (already done: ${step.alreadyDone})` : ''}`;
}

/**
 * The AWS CLI's name for an API or parameter name: botocore's `xform_name`
 * with `-`, which the CLI applies to operations and to each top-level input
 * member (`EnableEbsEncryptionByDefault` → `enable-ebs-encryption-by-default`,
 * `GrantReadACP` → `grant-read-acp`, `ListMFADevices` → `list-mfa-devices`,
 * `S3BucketName` → `s3-bucket-name`).
 */
export function cliName(name: string): string {
  // botocore: a pluralized acronym at the end (`GatewayARNs`) becomes one word (`gateway-arns`).
  const plural = /[A-Z]{2,}s$/.exec(name);
  const split = plural ? `${name.slice(0, plural.index)}-${plural[0].toLowerCase()}` : name;
  return split
    .replace(/(.)([A-Z][a-z]+)/g, '$1-$2')
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase();
}

/** The AWS CLI command of each service the engine calls: S3's API commands are `aws s3api`, not the high-level `aws s3`. */
const CLI_SERVICES: Readonly<Record<Service, string>> = {
  ec2: 'ec2',
  iam: 'iam',
  sns: 'sns',
  cloudtrail: 'cloudtrail',
  sagemaker: 'sagemaker',
  s3: 's3api',
  s3control: 's3control',
  kms: 'kms',
  guardduty: 'guardduty',
  configservice: 'configservice',
};

/** Whether the engine calls `name` (a service named in a received alert may be one this version does not know). */
export function isService(name: string): name is Service {
  return Object.hasOwn(CLI_SERVICES, name);
}

/** Arguments the AWS CLI renames from their derived name (awscli/customizations/argrename.py), for the services above. */
const CLI_ARGUMENT_RENAMES: Readonly<Record<string, string>> = {
  'ec2:*:no-egress': 'ingress',
  'ec2:*:no-disable-api-termination': 'enable-api-termination',
  'ec2:create-image:no-no-reboot': 'reboot',
  'sns:subscribe:endpoint': 'notification-endpoint',
};

/** Values the AWS CLI would read from a file or URL instead of taking them as given (its `paramfile` prefixes). */
const PARAMFILE_PREFIX = /^(file|fileb|https?):\/\//i;

/** A word bash takes as it is (Python's `shlex.quote` safe set); anything else is quoted. */
const SAFE_WORD = /^[\w@%+=:,./-]+$/;

/**
 * One bash word holding exactly `text`: bare when it is plain, otherwise in
 * single quotes (`'` as `'\''`), so `$(…)`, backquotes and `"` stay inert;
 * with control characters, ANSI-C `$'…'` quoting keeps the command on one line.
 */
export function shellWord(text: string): string {
  if (text !== '' && SAFE_WORD.test(text)) return text;
  if (/[\x00-\x1f\x7f]/.test(text)) {
    const escaped = text.replace(/[\\'\x00-\x1f\x7f]/g, (char) => {
      if (char === '\\' || char === "'") return `\\${char}`;
      if (char === '\n') return '\\n';
      if (char === '\t') return '\\t';
      if (char === '\r') return '\\r';
      return `\\x${char.charCodeAt(0).toString(16).padStart(2, '0')}`;
    });
    return `$'${escaped}'`;
  }
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function oneLine(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]+/g, ' ').trim();
}

/** What a person must put in place of a placeholder: `<fill in: …>`, the same words in the command and in the note above it. */
function fillInMarker(value: StepOutputRef | UnknownValue): string {
  if (isUnknownValue(value)) return `<fill in: ${oneLine(value.$unknown)}>`;
  const dot = value.$ref.indexOf('.');
  const [step, field] = dot < 0 ? [value.$ref, 'output'] : [value.$ref.slice(0, dot), value.$ref.slice(dot + 1)];
  return `<fill in: the ${oneLine(field)} that step ${oneLine(step)} returns>`;
}

/** The input with each placeholder replaced by its marker, the markers in `found`; bytes become base64 (the CLI v2 default for blobs), dates ISO 8601. */
function withMarkers(value: unknown, found: string[]): unknown {
  if (isStepOutputRef(value) || isUnknownValue(value)) {
    const marker = fillInMarker(value);
    if (!found.includes(marker)) found.push(marker);
    return marker;
  }
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((item) => withMarkers(item, found));
  if (typeof value === 'object' && value !== null) return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, withMarkers(item, found)]));
  return value;
}

/** The head of the command: `aws ec2 revoke-security-group-ingress`, or `aws ec2 wait snapshot-completed` for an SDK waiter. */
function cliHead(step: Pick<UndoStep, 'service' | 'operation'> & { readonly kind?: string }): { readonly service: string; readonly command: string } | undefined {
  const service = CLI_SERVICES[step.service] ?? step.service;
  const isWait = step.kind === 'wait' || step.operation.startsWith('waitUntil');
  if (!isWait) return { service, command: cliName(step.operation) };
  // An SDK v3 waiter (`waitUntilSnapshotCompleted`) and the CLI's `wait snapshot-completed` come from the same waiter model.
  const waiter = /^waitUntil([A-Z].*)$/.exec(step.operation)?.[1];
  return waiter ? { service, command: `wait ${cliName(waiter)}` } : undefined;
}

/** `--name value` options, one per top-level input member; `undefined` when the CLI would not take a value as written. */
function cliOptions(service: string, command: string, input: Readonly<Record<string, unknown>>): string[] | undefined {
  const options: string[] = [];
  for (const [member, value] of Object.entries(input)) {
    if (value === undefined || value === null) continue;
    const name = cliName(member);
    const flag = (option: string) => `--${CLI_ARGUMENT_RENAMES[`${service}:${command}:${option}`] ?? CLI_ARGUMENT_RENAMES[`${service}:*:${option}`] ?? option}`;
    if (typeof value === 'boolean') {
      options.push(flag(value ? name : `no-${name}`));
    } else if (typeof value === 'number' || typeof value === 'bigint') {
      options.push(`${flag(name)} ${String(value)}`);
    } else if (typeof value === 'string') {
      if (PARAMFILE_PREFIX.test(value)) return undefined;
      // `--name=value`: a value starting with `-` would otherwise read as an option.
      options.push(value.startsWith('-') ? `${flag(name)}=${shellWord(value)}` : `${flag(name)} ${shellWord(value)}`);
    } else {
      options.push(`${flag(name)} ${shellWord(JSON.stringify(value))}`);
    }
  }
  return options;
}

/**
 * The step as an AWS CLI v2 command a person can paste into bash: `aws
 * <service> <operation> --region <region>`, then each input member as an
 * option (scalars as values, booleans as `--flag`/`--no-flag`, structures and
 * lists as JSON), every value quoted for bash. When the CLI would read a value
 * as a file or URL (`file://…`), the whole input goes in `--cli-input-json`
 * instead, which the CLI takes literally. A wait step is its `aws <service>
 * wait …` command.
 *
 * A step that holds placeholders (an earlier step's output, a value the bot
 * could not know) is not runnable as it is: its command is commented out,
 * below a comment naming each `<fill in: …>` value to replace first.
 */
export function awsCliCommand(step: PlanStep | UndoStep, region: string): string {
  const head = cliHead(step);
  if (!head) return `# ${oneLine(step.operation)}: a wait with no AWS CLI command; check by hand before the next step`;
  const markers: string[] = [];
  const input = withMarkers(step.input, markers) as Readonly<Record<string, unknown>>;
  const start = `aws ${head.service} ${head.command} --region${region.startsWith('-') ? '=' : ' '}${shellWord(region)}`;
  const options = cliOptions(head.service, head.command, input);
  const command = options ? [start, ...options].join(' ') : `${start} --cli-input-json ${shellWord(JSON.stringify(input))}`;
  if (markers.length === 0) return command;
  return [`# not runnable as shown: replace ${markers.join(' and ')}, then remove the leading "# "`, `# ${command}`].join('\n');
}
