/**
 * The write two IAM rules share: detaching a managed policy from a role, user
 * or group, with its undo (attaching it again). Each identity kind has its own
 * command, and its name under its own input key, so each step is built
 * against that command's input type.
 */
import {
  AttachGroupPolicyCommand,
  AttachRolePolicyCommand,
  AttachUserPolicyCommand,
  DetachGroupPolicyCommand,
  DetachRolePolicyCommand,
  DetachUserPolicyCommand,
} from '@aws-sdk/client-iam';
import type { PlanStep } from '../../engine/types.js';
import { defineAction, defineUndo, NO_SUCH_ENTITY } from '../../rulekit/index.js';
import { iam } from '../../rulekit/aws/iam.js';
import type { Identity } from './common.js';

/** Detach{Role,User,Group}Policy: the rules that detach list all three, in this order. */
export const DETACH_POLICY = {
  role: defineAction(iam, DetachRolePolicyCommand),
  user: defineAction(iam, DetachUserPolicyCommand),
  group: defineAction(iam, DetachGroupPolicyCommand),
} as const;

const ATTACH_AGAIN = {
  role: defineUndo(iam, AttachRolePolicyCommand),
  user: defineUndo(iam, AttachUserPolicyCommand),
  group: defineUndo(iam, AttachGroupPolicyCommand),
} as const;

interface DetachTexts {
  readonly reason: string;
  readonly undoReason: string;
}

/**
 * Detaches `policyArn` from the identity; the undo attaches it again with the
 * same input. NoSuchEntity (the identity gone, or the policy no longer
 * attached) counts as already done once the verification agrees.
 */
export function detachStep(identity: Identity, policyArn: string, texts: DetachTexts, checks: Pick<PlanStep, 'precondition' | 'verification'>): PlanStep {
  const options = { reason: texts.reason, alreadyDoneCodes: NO_SUCH_ENTITY, ...checks };
  switch (identity.kind) {
    case 'role': {
      const input = { RoleName: identity.name, PolicyArn: policyArn };
      return DETACH_POLICY.role.step(input, { ...options, undo: ATTACH_AGAIN.role.undo(input, texts.undoReason) });
    }
    case 'user': {
      const input = { UserName: identity.name, PolicyArn: policyArn };
      return DETACH_POLICY.user.step(input, { ...options, undo: ATTACH_AGAIN.user.undo(input, texts.undoReason) });
    }
    case 'group': {
      const input = { GroupName: identity.name, PolicyArn: policyArn };
      return DETACH_POLICY.group.step(input, { ...options, undo: ATTACH_AGAIN.group.undo(input, texts.undoReason) });
    }
  }
}
