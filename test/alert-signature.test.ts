/**
 * Alerts are authentic (issue 14, item 4): the publisher signs exactly the
 * `lambda` body it publishes, and the verifier trusts only KMS, with the
 * notifier's own key. KMS and SNS are mocked; the mocked KMS computes real
 * HMAC-SHA-256 under a test key, so a signature is checked, not assumed.
 *
 * Mutations these tests catch: signing the whole message or another body than
 * `lambda`; signing the body instead of its digest (KMS refuses messages over
 * 4,096 bytes); dropping the routing attributes when adding the signature;
 * holding an alert back when signing fails; verifying with the key the message
 * names; accepting a signature without calling KMS.
 */
import { createHash } from 'node:crypto';
import { GenerateMacCommand, KMSClient, VerifyMacCommand } from '@aws-sdk/client-kms';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../engine/aws.js';
import { alertDigest, createAlertVerifier } from '../notify/alert-signature.js';
import { createNotifier } from '../notify/notifier.js';
import { publishAlert, type PublishInput } from '../notify/sns.js';
import { snsCommands } from '../notify/sns-commands.js';
import { fakeHmacKey, FakeSlack, kmsGateway, lambdaBodyOf, SIGNING_KEY_ARN, snsEventOf, testMac, TOPIC } from './helpers/fake-slack.js';
import { recordingLogger } from './helpers/logger.js';
import { appliedAlert } from './helpers/notify-samples.js';

const kms = mockClient(KMSClient);
const sns = mockClient(SNSClient);
const gateway = () => createAwsGateway(snsCommands, { region: 'us-east-1', maxAttempts: 1 });

beforeEach(() => {
  kms.reset();
  sns.reset();
  fakeHmacKey(kms);
  sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
});

function published(): PublishInput {
  const calls = sns.commandCalls(PublishCommand);
  expect(calls).toHaveLength(1);
  return calls[0]?.args[0].input as PublishInput;
}

describe('alert signing', () => {
  describe('publishAlert', () => {
    it('signs the SHA-256 digest of exactly the lambda body it publishes, and adds the MAC and key beside the routing attributes', async () => {
      // Arrange
      const alert = await appliedAlert();
      // Act
      const result = await publishAlert(alert, gateway(), TOPIC, { signingKeyId: SIGNING_KEY_ARN });
      // Assert
      const input = published();
      const body = lambdaBodyOf(input);
      const digest = new Uint8Array(createHash('sha256').update(Buffer.from(body, 'utf8')).digest());
      expect(kms.commandCalls(GenerateMacCommand).map((call) => call.args[0].input)).toStrictEqual([
        { KeyId: SIGNING_KEY_ARN, Message: digest, MacAlgorithm: 'HMAC_SHA_256' },
      ]);
      expect(input.MessageAttributes).toStrictEqual({
        rule: { DataType: 'String', StringValue: 'sg-open-ingress' },
        severity: { DataType: 'String', StringValue: 'high' },
        severityRank: { DataType: 'Number', StringValue: '3' },
        account: { DataType: 'String', StringValue: '111122223333' },
        mode: { DataType: 'String', StringValue: 'remediate' },
        outcome: { DataType: 'String', StringValue: 'applied' },
        signature: { DataType: 'String', StringValue: Buffer.from(testMac(digest)).toString('base64') },
        signatureKey: { DataType: 'String', StringValue: SIGNING_KEY_ARN },
      });
      expect(result).toStrictEqual({ signature: 'signed' });
    });

    it('signs a digest of 32 bytes however long the alert is (KMS takes at most 4,096 bytes of message)', async () => {
      const alert = await appliedAlert();
      await publishAlert({ ...alert, rationale: 'r'.repeat(100_000) }, gateway(), TOPIC, { signingKeyId: SIGNING_KEY_ARN });
      const message = kms.commandCalls(GenerateMacCommand)[0]?.args[0].input.Message;
      expect(message).toStrictEqual(alertDigest(lambdaBodyOf(published())));
      expect(message?.length).toBe(32);
    });

    it('publishes unsigned, with no KMS call, when no signing key is given (the CLI, unit tests)', async () => {
      const result = await publishAlert(await appliedAlert(), gateway(), TOPIC);
      expect(kms.commandCalls(GenerateMacCommand)).toHaveLength(0);
      expect(Object.keys(published().MessageAttributes)).toStrictEqual(['rule', 'severity', 'severityRank', 'account', 'mode', 'outcome']);
      expect(result).toStrictEqual({ signature: 'unsigned' });
    });

    it('still publishes the alert, unsigned, when KMS refuses to sign, and says why', async () => {
      // Arrange
      kms.on(GenerateMacCommand).rejects(Object.assign(new Error('not authorized to perform: kms:GenerateMac'), { name: 'AccessDeniedException' }));
      // Act
      const result = await publishAlert(await appliedAlert(), gateway(), TOPIC, { signingKeyId: SIGNING_KEY_ARN });
      // Assert
      expect(Object.keys(published().MessageAttributes)).not.toContain('signature');
      expect(result).toStrictEqual({ signature: 'signing-failed', errorCode: 'AccessDeniedException', errorMessage: 'not authorized to perform: kms:GenerateMac' });
    });
  });

  describe('createAlertVerifier', () => {
    const body = '{"schemaVersion":"1"}';
    const signature = Buffer.from(testMac(alertDigest(body))).toString('base64');
    const attributes = (value: string) => ({ signature: { Type: 'String', Value: value } });
    const verifier = (keyId: string | undefined = SIGNING_KEY_ARN) => createAlertVerifier(keyId, kmsGateway());

    it('verifies a valid MAC with VerifyMac on the configured key, over the digest of the body', async () => {
      expect(await verifier()(body, attributes(signature))).toStrictEqual({ status: 'verified' });
      expect(kms.commandCalls(VerifyMacCommand).map((call) => call.args[0].input)).toStrictEqual([
        { KeyId: SIGNING_KEY_ARN, Message: alertDigest(body), Mac: new Uint8Array(Buffer.from(signature, 'base64')), MacAlgorithm: 'HMAC_SHA_256' },
      ]);
    });

    it('rejects a body changed by one character', async () => {
      expect(await verifier()(body.replace('1', '2'), attributes(signature))).toStrictEqual({ status: 'invalid', reason: "the signature does not match the bot's key" });
    });

    it('calls no KMS for a message with no signature, or with one that is not an HMAC-SHA-256 tag', async () => {
      expect(await verifier()(body, undefined)).toStrictEqual({ status: 'unsigned', reason: 'the message carries no signature' });
      expect(await verifier()(body, { signature: { Type: 'Number', Value: 42 } })).toStrictEqual({ status: 'unsigned', reason: 'the message carries no signature' });
      for (const value of ['', 'not base64!', Buffer.alloc(31).toString('base64'), `${signature}AA`]) {
        expect(await verifier()(body, attributes(value)), value).toStrictEqual({ status: 'invalid', reason: 'the signature is not an HMAC-SHA-256 tag' });
      }
      expect(kms.commandCalls(VerifyMacCommand)).toHaveLength(0);
    });

    it('verifies nothing when the notifier has no key configured', async () => {
      expect(await verifier('')(body, attributes(signature))).toStrictEqual({ status: 'unsigned', reason: 'the notifier has no signing key configured (ALERT_SIGNING_KEY_ID)' });
      expect(kms.commandCalls(VerifyMacCommand)).toHaveLength(0);
    });

    it.each([
      ['AccessDeniedException', 'User is not authorized to perform: kms:VerifyMac'],
      ['ThrottlingException', 'Rate exceeded'],
      ['DisabledException', 'key is disabled'],
    ])('reports %s as a failure to verify, never as verified', async (name, message) => {
      kms.on(VerifyMacCommand).rejects(Object.assign(new Error(message), { name }));
      expect(await verifier()(body, attributes(signature))).toStrictEqual({ status: 'failed', reason: `the signature could not be verified (${name})`, errorCode: name, errorMessage: message });
    });

    it('does not trust an answer without MacValid', async () => {
      kms.on(VerifyMacCommand).resolves({ KeyId: SIGNING_KEY_ARN });
      expect((await verifier()(body, attributes(signature))).status).toBe('invalid');
    });
  });

  describe('end to end', () => {
    const slack = new FakeSlack();
    beforeAll(() => slack.start());
    afterAll(() => slack.stop());

    it('an alert the publisher signed is verified by the notifier and posted as a bot alert', async () => {
      // Arrange
      await publishAlert(await appliedAlert(), gateway(), TOPIC, { signingKeyId: SIGNING_KEY_ARN });
      const notifier = createNotifier({
        logger: recordingLogger(),
        metrics: { addMetric: () => undefined },
        webhookUrl: async () => slack.url,
        verifyAlert: createAlertVerifier(SIGNING_KEY_ARN, kmsGateway()),
      });
      // Act
      const result = await notifier(snsEventOf(published()));
      // Assert
      expect(result.delivered[0]).toMatchObject({ formatted: true, verified: true });
      expect(JSON.stringify(slack.requests[0]?.body)).toContain('How to undo (one command)');
    });
  });
});
