/**
 * Alerts are authentic: every remediation function signs the exact alert JSON
 * it publishes (the body the `lambda` subscriber receives) with the stack's KMS
 * HMAC key, and the Slack notifier renders as a bot alert only a message whose
 * signature KMS verifies with the key named in its own environment, never one
 * named by the message.
 *
 * KMS `GenerateMac` takes at most 4,096 bytes of message, and an alert can be
 * far longer, so the MAC is over the SHA-256 digest of the body's UTF-8 bytes.
 * KMS gives digests no special handling: the verifier recomputes the same
 * digest from the body it received (API reference, GenerateMac `Message`).
 *
 * The MAC (base64) and the signing key travel as SNS message attributes
 * (`signature`, `signatureKey`) beside the routing attributes.
 *
 * Both sides call KMS through an `AwsGateway` (`kms:GenerateMac` in the
 * remediation functions' command tables, `kms:VerifyMac` in the notifier's),
 * so this module imports no SDK client and the deploy code can read its names.
 */
import { DeliveryFault } from '../engine/errors.js';
import { createHash } from 'node:crypto';
import { errorCode, errorMessage, type AwsGateway } from '../engine/aws.js';

/** The environment variable that names the HMAC key, for the publishers and the notifier alike. */
export const SIGNING_KEY_ENV = 'ALERT_SIGNING_KEY_ID';
export const SIGNATURE_ATTRIBUTE = 'signature';
export const SIGNATURE_KEY_ATTRIBUTE = 'signatureKey';
export const MAC_ALGORITHM = 'HMAC_SHA_256';
/** HMAC-SHA-256 tags are 32 bytes: anything else is not a signature of this key, and needs no KMS call to say so. */
const MAC_BYTES = 32;

/** What KMS signs and verifies for one alert body: the SHA-256 digest of its UTF-8 bytes. */
export function alertDigest(body: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(body, 'utf8').digest());
}

export interface AlertSignature {
  /** The HMAC, base64. */
  readonly signature: string;
  /** The key that made it, as the publisher named it. */
  readonly keyId: string;
}

export class AlertSigningError extends DeliveryFault {
  override readonly name = 'AlertSigningError';
}

/** Signs one alert body with `kms:GenerateMac` through the function's gateway. */
export async function signAlertBody(gateway: AwsGateway, keyId: string, body: string): Promise<AlertSignature> {
  const output = await gateway.call('kms', 'GenerateMac', { KeyId: keyId, Message: alertDigest(body), MacAlgorithm: MAC_ALGORITHM });
  const mac = (output as { Mac?: unknown } | undefined)?.Mac;
  if (!(mac instanceof Uint8Array) || mac.length === 0) throw new AlertSigningError('kms:GenerateMac returned no Mac');
  return { signature: Buffer.from(mac).toString('base64'), keyId };
}

/** The message attributes of a Lambda SNS record: `{ name: { Type, Value } }`. */
export type LambdaMessageAttributes = Readonly<Record<string, unknown>>;

/**
 * Whether a message on the topic is the bot's. Every kind but `verified` is
 * posted as unverified text; `failed` is also a fault worth logging as one.
 */
export type Verification =
  | { readonly status: 'verified' }
  | { readonly status: 'unsigned'; readonly reason: string }
  | { readonly status: 'invalid'; readonly reason: string }
  | { readonly status: 'failed'; readonly reason: string; readonly errorCode: string; readonly errorMessage: string };

export type AlertVerifier = (body: string, attributes: LambdaMessageAttributes | undefined) => Promise<Verification>;

function attributeValue(attributes: LambdaMessageAttributes | undefined, name: string): string | undefined {
  const value = (attributes?.[name] as { Value?: unknown } | undefined)?.Value;
  return typeof value === 'string' ? value : undefined;
}

/** Strict base64 of exactly one HMAC-SHA-256 tag, or `undefined`. */
function decodeMac(value: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return undefined;
  const bytes = Buffer.from(value, 'base64');
  return bytes.length === MAC_BYTES && bytes.toString('base64') === value ? new Uint8Array(bytes) : undefined;
}

/**
 * Verifies alert bodies with `kms:VerifyMac` on `keyId` (the notifier's own
 * configuration, never a key the message names). No key configured: nothing
 * verifies. `gateway` needs only `kms:VerifyMac` in its command table.
 */
export function createAlertVerifier(keyId: string | undefined, gateway: AwsGateway): AlertVerifier {
  const configured = keyId?.trim() ?? '';
  return async (body, attributes) => {
    const claimed = attributeValue(attributes, SIGNATURE_ATTRIBUTE);
    if (claimed === undefined) return { status: 'unsigned', reason: 'the message carries no signature' };
    if (configured === '') return { status: 'unsigned', reason: `the notifier has no signing key configured (${SIGNING_KEY_ENV})` };
    const mac = decodeMac(claimed);
    if (!mac) return { status: 'invalid', reason: 'the signature is not an HMAC-SHA-256 tag' };
    try {
      const output = await gateway.call('kms', 'VerifyMac', { KeyId: configured, Message: alertDigest(body), Mac: mac, MacAlgorithm: MAC_ALGORITHM });
      // KMS answers an invalid MAC with KMSInvalidMacException; MacValid is checked all the same.
      return (output as { MacValid?: unknown } | undefined)?.MacValid === true ? { status: 'verified' } : { status: 'invalid', reason: "the signature does not match the bot's key" };
    } catch (error) {
      const code = errorCode(error);
      if (code === 'KMSInvalidMacException') return { status: 'invalid', reason: "the signature does not match the bot's key" };
      return { status: 'failed', reason: `the signature could not be verified (${code})`, errorCode: code, errorMessage: errorMessage(error) };
    }
  };
}
