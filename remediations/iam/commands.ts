/**
 * The SDK commands the IAM function may send: its rules' plan steps, lookups
 * and probes (the reads before and after each write), and SNS for alerts. Undo and proposed steps (Put…Policy,
 * Attach…Policy other than AWSDenyAll, UpdateAssumeRolePolicy) are for people:
 * they are deliberately absent, so the function can never grant access.
 */
import {
  AttachRolePolicyCommand,
  DeleteGroupPolicyCommand,
  DeleteRolePolicyCommand,
  DeleteUserPolicyCommand,
  DetachGroupPolicyCommand,
  DetachRolePolicyCommand,
  DetachUserPolicyCommand,
  GetGroupPolicyCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  GetUserCommand,
  GetUserPolicyCommand,
  IAMClient,
  ListAttachedGroupPoliciesCommand,
  ListAttachedRolePoliciesCommand,
  ListAttachedUserPoliciesCommand,
  ListEntitiesForPolicyCommand,
  ListPolicyVersionsCommand,
  SetDefaultPolicyVersionCommand,
} from '@aws-sdk/client-iam';
import type { CommandTable } from '../../engine/aws.js';
import { snsCommands } from '../../notify/sns-commands.js';

export const iamCommands = {
  clients: { ...snsCommands.clients, iam: IAMClient },
  commands: {
    ...snsCommands.commands,
    'iam:DeleteRolePolicy': DeleteRolePolicyCommand,
    'iam:DeleteUserPolicy': DeleteUserPolicyCommand,
    'iam:DeleteGroupPolicy': DeleteGroupPolicyCommand,
    'iam:DetachRolePolicy': DetachRolePolicyCommand,
    'iam:DetachUserPolicy': DetachUserPolicyCommand,
    'iam:DetachGroupPolicy': DetachGroupPolicyCommand,
    'iam:AttachRolePolicy': AttachRolePolicyCommand,
    'iam:SetDefaultPolicyVersion': SetDefaultPolicyVersionCommand,
    'iam:GetRole': GetRoleCommand,
    'iam:GetUser': GetUserCommand,
    'iam:GetRolePolicy': GetRolePolicyCommand,
    'iam:GetUserPolicy': GetUserPolicyCommand,
    'iam:GetGroupPolicy': GetGroupPolicyCommand,
    'iam:GetPolicy': GetPolicyCommand,
    'iam:GetPolicyVersion': GetPolicyVersionCommand,
    'iam:ListPolicyVersions': ListPolicyVersionsCommand,
    'iam:ListEntitiesForPolicy': ListEntitiesForPolicyCommand,
    'iam:ListAttachedRolePolicies': ListAttachedRolePoliciesCommand,
    'iam:ListAttachedUserPolicies': ListAttachedUserPoliciesCommand,
    'iam:ListAttachedGroupPolicies': ListAttachedGroupPoliciesCommand,
  },
} as const satisfies CommandTable;
