import { EC2Client, EC2ServiceException, EnableEbsEncryptionByDefaultCommand, GetEbsEncryptionByDefaultCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { createAwsGateway } from '../../engine/aws.js';
import type { CloudTrailEvent } from '../../engine/event.js';
import { executePlan } from '../../engine/executor.js';
import type { Plan } from '../../engine/types.js';
import { runtimeCommands } from '../../handlers/runtime.js';
import { ebsFamily } from '../../remediations/ebs/index.js';
import { loadEvent } from '../helpers/fixtures.js';
import { registeredRule } from '../helpers/registered.js';
import { ruleEvaluator, TEST_REGION } from '../helpers/rule-harness.js';

const ebsCommands = runtimeCommands(ebsFamily);
const ebsDefaultEncryptionDisabled = registeredRule('ebs-default-encryption-disabled');
const evaluate = ruleEvaluator('ebs-default-encryption-disabled');

const ec2 = mockClient(EC2Client);

function planFor(event: CloudTrailEvent = loadEvent('ec2/DisableEbsEncryptionByDefault-turned-off.json')): Plan {
  const verdict = evaluate(event);
  if (verdict.kind !== 'violation') throw new Error(`expected a violation, got ${verdict.kind}`);
  return verdict.plan;
}

const check = (description: string) => ({
  service: 'ec2',
  operation: 'GetEbsEncryptionByDefault',
  input: {},
  probe: 'encryptionByDefault',
  expect: { region: 'us-east-1' },
  description,
});

const enable = {
  service: 'ec2',
  operation: 'EnableEbsEncryptionByDefault',
  input: {},
  reason: 'Turn EBS encryption by default back on in us-east-1, so that every new volume is encrypted again. Existing volumes are not changed.',
  undo: { service: 'ec2', operation: 'DisableEbsEncryptionByDefault', input: {}, reason: 'Turn encryption by default off again, as the event did.' },
  precondition: check('shows encryption by default still off in us-east-1'),
  verification: check('shows encryption by default on in us-east-1'),
};

/** The account setting as EC2 keeps it: `Enable` turns it on, `Get` reads it back. */
function accountSetting(initially: boolean, options: { enableSticks?: boolean } = {}) {
  let enabled = initially;
  ec2.on(GetEbsEncryptionByDefaultCommand).callsFake(() => ({ EbsEncryptionByDefault: enabled, SseType: 'sse-ebs' }));
  ec2.on(EnableEbsEncryptionByDefaultCommand).callsFake(() => {
    // A control that switches it straight back off (a competing automation, an SCP-less script) makes the change not stick.
    if (options.enableSticks !== false) enabled = true;
    return { EbsEncryptionByDefault: true };
  });
}

const gateway = () => createAwsGateway(ebsCommands, { region: TEST_REGION });
const run = (plan: Plan) => executePlan(plan, gateway(), { probes: ebsDefaultEncryptionDisabled.probes });
const calls = () => ec2.calls().map((call) => (call.args[0] as { constructor: { name: string } }).constructor.name);

describe('ebs-default-encryption-disabled', () => {
  describe('evaluate', () => {
    it('turns encryption by default back on, reading the setting before and after, with disabling it as the undo', () => {
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

    it('acts in the region of the event', () => {
      const event = loadEvent('ec2/DisableEbsEncryptionByDefault-turned-off.json');
      event.detail.awsRegion = 'eu-west-1';
      const [step] = planFor(event);
      expect(step?.reason).toContain('in eu-west-1');
      expect(step?.precondition?.description).toBe('shows encryption by default still off in eu-west-1');
    });

    it('is compliant when encryption by default is turned on, and reads nothing for it', () => {
      const event = loadEvent('ec2/EnableEbsEncryptionByDefault-turned-on-compliant.json');
      expect(evaluate(event)).toStrictEqual({
        kind: 'compliant',
        summary: 'EBS encryption by default was turned on in us-east-1',
        resources: ['ebs-encryption-by-default:111122223333:us-east-1'],
      });
      expect(ebsDefaultEncryptionDisabled.lookups).toStrictEqual([]);
    });
  });

  describe('execute', () => {
    beforeEach(() => ec2.reset());

    it('applies when the read before shows it off, and reports applied only because the read after shows it on', async () => {
      // Arrange
      accountSetting(false);
      // Act
      const report = await run(planFor());
      // Assert
      expect(report.status).toBe('applied');
      expect(calls()).toStrictEqual(['GetEbsEncryptionByDefaultCommand', 'EnableEbsEncryptionByDefaultCommand', 'GetEbsEncryptionByDefaultCommand']);
      expect(ec2.commandCalls(EnableEbsEncryptionByDefaultCommand)[0]?.args[0].input).toStrictEqual({});
      expect(ec2.commandCalls(GetEbsEncryptionByDefaultCommand).map((c) => c.args[0].input)).toStrictEqual([{}, {}]);
      expect(report.steps[0]).toMatchObject({
        status: 'applied',
        precondition: { state: 'needed', evidence: 'encryption by default is off in us-east-1' },
        verification: { state: 'done', evidence: 'encryption by default is on in us-east-1' },
      });
    });

    it('is "already fixed", never "applied", on a re-run: the read before shows it on and nothing is written', async () => {
      accountSetting(false);
      const plan = planFor();
      const first = await run(plan);
      const second = await run(plan);
      expect([first.status, second.status]).toStrictEqual(['applied', 'already-fixed']);
      expect(ec2.commandCalls(EnableEbsEncryptionByDefaultCommand)).toHaveLength(1);
      expect(second.steps[0]).toMatchObject({ status: 'already-done', precondition: { state: 'done', evidence: 'encryption by default is on in us-east-1' } });
      expect(second.steps[0]?.verification).toBeUndefined();
    });

    it('is "unverified" when the read after still shows encryption by default off', async () => {
      accountSetting(false, { enableSticks: false });
      const report = await run(planFor());
      expect(report.status).toBe('unverified');
      expect(ec2.commandCalls(EnableEbsEncryptionByDefaultCommand)).toHaveLength(1);
      expect(report.steps[0]?.verification).toStrictEqual({ state: 'needed', evidence: 'encryption by default is off in us-east-1' });
    });

    it('writes nothing and fails, naming the read, when the setting cannot be read', async () => {
      ec2.on(GetEbsEncryptionByDefaultCommand).rejects(new EC2ServiceException({ name: 'UnauthorizedOperation', $fault: 'client', $metadata: {}, message: 'denied' }));
      ec2.on(EnableEbsEncryptionByDefaultCommand).resolves({ EbsEncryptionByDefault: true });
      const report = await run(planFor());
      expect(report.status).toBe('failed');
      expect(report.steps[0]).toMatchObject({ status: 'failed', errorCode: 'UnauthorizedOperation', hint: "grant ec2:GetEbsEncryptionByDefault to this function's role" });
      expect(ec2.commandCalls(EnableEbsEncryptionByDefaultCommand)).toHaveLength(0);
    });
  });
});
