/**
 * The account's EBS encryption settings in one Region, as
 * `ebs-default-encryption-disabled` and `ebs-unencrypted-volume` restore
 * them: the steps, and the reads before and after each.
 *
 * - `EnableEbsEncryptionByDefault` is read with `GetEbsEncryptionByDefault`:
 *   already on is "already done", off is needed, and on again afterwards is verified.
 * - `ModifyEbsDefaultKmsKeyId` is read with `GetEbsDefaultKmsKeyId`: the
 *   configured key already the default is "already done"; a default key other
 *   than the one the plan's undo would restore means the setting changed
 *   since the plan was made, and nothing is written.
 */
import {
  DisableEbsEncryptionByDefaultCommand,
  EnableEbsEncryptionByDefaultCommand,
  GetEbsDefaultKmsKeyIdCommand,
  GetEbsEncryptionByDefaultCommand,
  ModifyEbsDefaultKmsKeyIdCommand,
  ResetEbsDefaultKmsKeyIdCommand,
} from '@aws-sdk/client-ec2';
import { field, stringField } from '../../engine/event.js';
import type { PlanStep, UndoStep } from '../../engine/types.js';
import { ec2 } from '../../rulekit/aws/ec2.js';
import { defineAction, defineProbe, defineUndo } from '../../rulekit/index.js';

/** `GetEbsDefaultKmsKeyId` answers with an ARN; the setting may name the key by id, ARN, alias or alias ARN. */
export function sameKmsKey(current: string, configured: string): boolean {
  if (current === configured) return true;
  const tail = configured.startsWith('arn:') ? configured.replace(/^arn:[^:]+:kms:[^:]*:\d*:/, '') : configured;
  return current.endsWith(`:${tail}`) || current.endsWith(`:key/${tail}`);
}

/** Whether encryption by default is on in the Region the bot runs in. */
export const encryptionByDefaultProbe = defineProbe(ec2, GetEbsEncryptionByDefaultCommand, {
  name: 'encryptionByDefault',
  judge(output, expected) {
    const region = String(expected['region']);
    const enabled = field(output, 'EbsEncryptionByDefault');
    if (enabled === true) return { state: 'done', evidence: `encryption by default is on in ${region}` };
    if (enabled === false) return { state: 'needed', evidence: `encryption by default is off in ${region}` };
    throw new Error('the answer holds no EbsEncryptionByDefault flag');
  },
});

/**
 * The default EBS key against `expect.kmsKeyId` (the configured key) and,
 * when the plan knew it, `expect.previous` (the key its undo restores).
 */
export const defaultKmsKeyProbe = defineProbe(ec2, GetEbsDefaultKmsKeyIdCommand, {
  name: 'defaultKmsKey',
  judge(output, expected) {
    const current = stringField(output, 'KmsKeyId');
    if (current === undefined) throw new Error('the answer holds no KmsKeyId');
    const wanted = String(expected['kmsKeyId']);
    if (sameKmsKey(current, wanted)) return { state: 'done', evidence: `the default EBS key is ${current}, the configured key` };
    const previous = expected['previous'];
    if (typeof previous === 'string' && !sameKmsKey(current, previous)) {
      return {
        state: 'changed',
        evidence: `the default EBS key is now ${current}, not ${previous} as when the plan was made: its undo would restore the wrong key, so ${wanted} was not set`,
      };
    }
    return { state: 'needed', evidence: `the default EBS key is ${current}, not the configured ${wanted}` };
  },
});

/** Encryption by default has no resource-level permission: granted on `*`. */
export const enableEncryptionByDefault = defineAction(ec2, EnableEbsEncryptionByDefaultCommand);
export const disableEncryptionByDefault = defineUndo(ec2, DisableEbsEncryptionByDefaultCommand);

/** Only a configured key is ever made the default: without one, the function holds no right to change it. */
export const setDefaultKmsKey = defineAction(ec2, ModifyEbsDefaultKmsKeyIdCommand, { requiresSetting: 'kmsKeyId' });
export const restoreDefaultKmsKey = defineUndo(ec2, ModifyEbsDefaultKmsKeyIdCommand);
export const resetDefaultKmsKey = defineUndo(ec2, ResetEbsDefaultKmsKeyIdCommand);

/** Turns encryption by default on, read before (still off?) and after (on?). */
export function planEnableEncryptionByDefault(region: string, reason: string, undoReason: string): PlanStep {
  return enableEncryptionByDefault.step(
    {},
    {
      reason,
      undo: disableEncryptionByDefault.undo({}, undoReason),
      precondition: encryptionByDefaultProbe.check({}, { region }, `shows encryption by default still off in ${region}`),
      verification: encryptionByDefaultProbe.check({}, { region }, `shows encryption by default on in ${region}`),
    },
  );
}

/**
 * Makes `kmsKeyId` the default EBS key. `previous` is the default key a lookup
 * saw when the plan was made: the undo restores it, and the read before the
 * write makes sure it is still the default. Unknown, the undo resets to the
 * AWS managed key and says so.
 */
export function planDefaultKmsKey(region: string, kmsKeyId: string, previous: string | undefined): PlanStep {
  const undo: UndoStep =
    previous !== undefined
      ? restoreDefaultKmsKey.undo({ KmsKeyId: previous }, `Set the default EBS key back to ${previous}.`)
      : resetDefaultKmsKey.undo(
          {},
          'Set the default EBS key back to the AWS managed key (alias/aws/ebs); if another key was the default before, set that one instead (it was not known when this plan was made).',
        );
  const expected = { kmsKeyId, ...(previous !== undefined ? { previous } : {}) };
  return setDefaultKmsKey.step(
    { KmsKeyId: kmsKeyId },
    {
      reason: `Make ${kmsKeyId} the default key for EBS encryption in ${region}, as configured.`,
      undo,
      precondition: defaultKmsKeyProbe.check({}, expected, `shows a default EBS key other than ${kmsKeyId}${previous !== undefined ? `, still ${previous}` : ''}`),
      verification: defaultKmsKeyProbe.check({}, expected, `shows ${kmsKeyId} as the default EBS key`),
    },
  );
}
