/**
 * The Slack webhook URL: read from Secrets Manager or SSM Parameter Store
 * (SecureString) once per container, cached, and never logged.
 *
 * The deploy parameter names where it lives, and its form picks the store:
 * - `arn:aws:secretsmanager:<region>:<account>:secret:<name>-<suffix>` → Secrets Manager `GetSecretValue`;
 * - `/path/to/parameter` (or an `arn:aws:ssm:…:parameter/…` ARN) → SSM `GetParameter` with decryption.
 *
 * The stored value is the URL itself, or JSON `{"url": "https://hooks.slack.com/…"}`.
 */
import { ConfigFault } from '../engine/errors.js';
import { GetSecretValueCommand, type SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParameterCommand, type SSMClient } from '@aws-sdk/client-ssm';
import * as z from 'zod/mini';

type WebhookSecretSource =
  | { readonly store: 'secretsmanager'; readonly secretId: string }
  | { readonly store: 'ssm'; readonly name: string };

export class WebhookSecretError extends ConfigFault {
  override readonly name = 'WebhookSecretError';
}

const SECRETS_MANAGER_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/;
const SSM_PARAMETER_ARN = /^arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter\/.+$/;

/** Which store holds the secret, from the form of its reference (the value of `variable`, `SLACK_WEBHOOK_SECRET` by default). */
export function webhookSecretSource(reference: string | undefined, variable = 'SLACK_WEBHOOK_SECRET'): WebhookSecretSource {
  const value = reference?.trim() ?? '';
  if (SECRETS_MANAGER_ARN.test(value)) return { store: 'secretsmanager', secretId: value };
  if (value.startsWith('/') || SSM_PARAMETER_ARN.test(value)) return { store: 'ssm', name: value };
  throw new WebhookSecretError(
    value === ''
      ? `${variable} is not set: give a Secrets Manager secret ARN or an SSM parameter name starting with "/"`
      : `${variable} must be a Secrets Manager secret ARN (arn:aws:secretsmanager:…) or an SSM parameter name starting with "/", got "${value}"`,
  );
}

/**
 * The region to call: an ARN's own, so that one secret can serve a deployment
 * in several regions; otherwise the function's region.
 */
export function webhookSecretRegion(reference: string | undefined, functionRegion: string | undefined): string | undefined {
  const arnRegion = /^arn:aws[a-z-]*:(?:secretsmanager|ssm):([a-z0-9-]+):/.exec(reference?.trim() ?? '')?.[1];
  return arnRegion ?? functionRegion;
}

function isLoopback(hostname: string): boolean {
  return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]';
}

/** https anywhere; plain http only to this machine (local tests and proxies). */
const WebhookUrlSchema = z.string().check(
  z.refine((value) => {
    try {
      const url = new URL(value);
      return url.protocol === 'https:' || (url.protocol === 'http:' && isLoopback(url.hostname));
    } catch {
      return false;
    }
  }, 'the webhook must be an https URL'),
);

const WebhookSecretJsonSchema = z.object({ url: WebhookUrlSchema });

/**
 * Reads the URL out of the stored value. Error messages describe the shape
 * only: a malformed value may still be most of a valid URL.
 */
export function parseWebhookSecret(stored: string | undefined): string {
  const value = stored?.trim() ?? '';
  if (value === '') throw new WebhookSecretError('the webhook secret is empty');
  let candidate: unknown = value;
  if (value.startsWith('{')) {
    try {
      candidate = JSON.parse(value) as unknown;
    } catch {
      throw new WebhookSecretError('the webhook secret starts with "{" but is not valid JSON; store the URL, or {"url": "https://…"}');
    }
    const parsed = WebhookSecretJsonSchema.safeParse(candidate);
    if (!parsed.success) throw new WebhookSecretError('the webhook secret JSON must be {"url": "https://…"} with an https URL');
    return parsed.data.url;
  }
  const parsed = WebhookUrlSchema.safeParse(candidate);
  if (!parsed.success) throw new WebhookSecretError('the webhook secret must be an https URL, or JSON {"url": "https://…"}');
  return parsed.data;
}

/** Makers of the two store clients; the reader constructs only the one its reference needs. */
interface SecretClients {
  readonly secretsManager: () => Pick<SecretsManagerClient, 'send'>;
  readonly ssm: () => Pick<SSMClient, 'send'>;
}

type StoredValueReader = () => Promise<string | undefined>;

function storedValueReader(source: WebhookSecretSource, clients: SecretClients): StoredValueReader {
  if (source.store === 'secretsmanager') {
    const client = clients.secretsManager();
    return async () => {
      const output = await client.send(new GetSecretValueCommand({ SecretId: source.secretId }));
      if (output.SecretString === undefined && output.SecretBinary !== undefined) {
        throw new WebhookSecretError('the webhook secret is binary; store it as a string (SecretString)');
      }
      return output.SecretString;
    };
  }
  const client = clients.ssm();
  return async () => (await client.send(new GetParameterCommand({ Name: source.name, WithDecryption: true }))).Parameter?.Value;
}

/** A secret read once and cached (the webhook URL, the signing secret). */
interface SecretReader {
  (): Promise<string>;
  /** Forgets the cached value: the next call reads the store again (after Slack said the webhook is gone). */
  invalidate(): void;
}

/**
 * Returns a reader that fetches the URL on first use and then answers from
 * the cache for the life of the container. A failed read is not cached, so
 * the next invocation tries again (after a fix to the secret or to IAM).
 */
export function createWebhookUrlReader(reference: string | undefined, clients: SecretClients): SecretReader {
  return createSecretReader(reference, clients, parseWebhookSecret);
}

/** The Slack app's signing secret, read like the webhook URL (`SLACK_SIGNING_SECRET`): the stored text, trimmed, at least 16 characters. */
export function createSigningSecretReader(reference: string | undefined, clients: SecretClients): SecretReader {
  return createSecretReader(
    reference,
    clients,
    (stored) => {
      const value = stored?.trim() ?? '';
      if (value.length < 16) throw new WebhookSecretError('the Slack signing secret is empty or too short: store the app\'s Signing Secret (Basic Information, App Credentials)');
      return value;
    },
    'SLACK_SIGNING_SECRET',
  );
}

function createSecretReader(reference: string | undefined, clients: SecretClients, parse: (stored: string | undefined) => string, variable?: string): SecretReader {
  // The store client is made now (at init, where Lambda gives full CPU); a bad
  // reference is reported by every read instead, so the error reaches the logs.
  let stored: StoredValueReader;
  try {
    stored = storedValueReader(webhookSecretSource(reference, variable), clients);
  } catch (error) {
    stored = () => Promise.reject(error);
  }
  let cached: Promise<string> | undefined;
  const read = () => {
    cached ??= (async () => parse(await stored()))();
    cached.catch(() => {
      cached = undefined;
    });
    return cached;
  };
  return Object.assign(read, {
    invalidate: () => {
      cached = undefined;
    },
  });
}

const REDACTED = '[redacted webhook URL]';

/**
 * Removes every form of the URL from text bound for a log line or an error:
 * the URL itself, its encoded forms, and its path (the part of a Slack webhook
 * URL that is the credential).
 */
export function redactWebhookUrl(text: string, url: string | undefined): string {
  if (!url) return text;
  let result = text;
  const forms = [url, encodeURI(url), encodeURIComponent(url)];
  try {
    const parsed = new URL(url);
    const secretPart = `${parsed.pathname}${parsed.search}`;
    // A short path ("/" in a local test) is not a credential, and replacing it would mangle the text.
    if (secretPart.length >= 8) forms.push(secretPart, encodeURIComponent(secretPart), secretPart.replace(/^\//, ''));
  } catch {
    // Not a URL: the raw forms above are all there is to remove.
  }
  for (const form of forms.sort((a, b) => b.length - a.length)) {
    if (form.length > 0) result = result.split(form).join(REDACTED);
  }
  return result;
}
