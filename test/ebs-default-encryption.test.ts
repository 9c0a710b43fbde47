import { describe, expect, it } from 'vitest';
import { parseConfig } from '../engine/config.js';
import type { CloudTrailEvent } from '../engine/event.js';
import type { Facts, Verdict } from '../engine/types.js';
import { ebsDefaultEncryptionDisabled } from '../remediations/ebs/ebs-default-encryption-disabled.js';
import { loadEvent } from './helpers/fixtures.js';

const NOW = new Date('2025-03-10T00:00:00Z');

function evaluate(event: CloudTrailEvent, facts: Facts = {}): Verdict {
  const config = parseConfig({}, [ebsDefaultEncryptionDisabled]);
  return ebsDefaultEncryptionDisabled.evaluate(event, facts, { config, settings: {}, now: NOW });
}

const enable = {
  service: 'ec2',
  operation: 'EnableEbsEncryptionByDefault',
  input: {},
  reason: 'Turn EBS encryption by default back on in us-east-1, so that every new volume is encrypted again. Existing volumes are not changed.',
  undo: { service: 'ec2', operation: 'DisableEbsEncryptionByDefault', input: {}, reason: 'Turn encryption by default off again, as the event did.' },
};

describe('ebs-default-encryption-disabled', () => {
  describe('evaluate', () => {
    it('turns encryption by default back on, with disabling it as the undo', () => {
      // Arrange
      const event = loadEvent('ec2/DisableEbsEncryptionByDefault-turned-off.json');
      // Act
      const verdict = evaluate(event);
      // Assert
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: 'EBS encryption by default was turned off in us-east-1',
        resources: ['ebs-encryption-by-default:111122223333:us-east-1'],
        findings: [
          {
            code: 'ebs-default-encryption-disabled',
            severity: 'high',
            message:
              'EBS encryption by default was turned off in us-east-1: volumes created from now on are unencrypted unless each request asks for encryption.',
            subject: 'us-east-1',
          },
        ],
        plan: [enable],
      });
    });

    it('does not depend on the wrapped request: an empty or missing DisableEbsEncryptionByDefaultRequest is the same call', () => {
      const event = loadEvent('ec2/DisableEbsEncryptionByDefault-turned-off.json');
      event.detail.requestParameters = null;
      expect(evaluate(event).kind).toBe('violation');
    });

    it('reports the step already done when GetEbsEncryptionByDefault shows it on again', () => {
      const verdict = evaluate(loadEvent('ec2/DisableEbsEncryptionByDefault-turned-off.json'), { ebsEncryptionByDefault: { status: 'ok', value: true } });
      expect(verdict.kind === 'violation' && verdict.plan).toStrictEqual([
        { ...enable, alreadyDone: 'GetEbsEncryptionByDefault says encryption by default is already on' },
      ]);
    });

    it('still plans the (idempotent) enable when the setting is off or unknown', () => {
      const event = loadEvent('ec2/DisableEbsEncryptionByDefault-turned-off.json');
      for (const facts of [{ ebsEncryptionByDefault: { status: 'ok', value: false } }, { ebsEncryptionByDefault: { status: 'unavailable', reason: 'offline' } }] as const) {
        const verdict = evaluate(event, facts);
        expect(verdict.kind === 'violation' && verdict.plan).toStrictEqual([enable]);
      }
    });

    it('acts in the region of the event', () => {
      const event = loadEvent('ec2/DisableEbsEncryptionByDefault-turned-off.json');
      event.detail.awsRegion = 'eu-west-1';
      const verdict = evaluate(event);
      expect(verdict.kind === 'violation' && verdict.plan[0]?.reason).toContain('in eu-west-1');
    });

    it('is compliant when encryption by default is turned on, and looks nothing up for it', () => {
      const event = loadEvent('ec2/EnableEbsEncryptionByDefault-turned-on-compliant.json');
      expect(evaluate(event)).toStrictEqual({
        kind: 'compliant',
        summary: 'EBS encryption by default was turned on in us-east-1',
        resources: ['ebs-encryption-by-default:111122223333:us-east-1'],
      });
      expect(ebsDefaultEncryptionDisabled.lookups[0].input(event)).toBeUndefined();
    });
  });
});
