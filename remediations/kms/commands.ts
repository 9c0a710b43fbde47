/**
 * The SDK commands the kms function may send: its rule's plan steps, lookups
 * and probes (the reads before and after each step, and before a proposal is
 * sent), and SNS for alerts. Undo-only and proposed operations
 * (ScheduleKeyDeletion, DisableKey, DisableKeyRotation, PutKeyPolicy) are
 * deliberately absent: a person runs them, never this function.
 */
import {
  CancelKeyDeletionCommand,
  DescribeKeyCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
  GetKeyPolicyCommand,
  GetKeyRotationStatusCommand,
  KMSClient,
  ListAliasesCommand,
  ListResourceTagsCommand,
} from '@aws-sdk/client-kms';
import type { CommandTable } from '../../engine/aws.js';
import { snsCommands } from '../../notify/sns-commands.js';

export const kmsCommands = {
  clients: { ...snsCommands.clients, kms: KMSClient },
  commands: {
    ...snsCommands.commands,
    'kms:CancelKeyDeletion': CancelKeyDeletionCommand,
    'kms:EnableKey': EnableKeyCommand,
    'kms:EnableKeyRotation': EnableKeyRotationCommand,
    'kms:DescribeKey': DescribeKeyCommand,
    'kms:ListResourceTags': ListResourceTagsCommand,
    'kms:ListAliases': ListAliasesCommand,
    'kms:GetKeyRotationStatus': GetKeyRotationStatusCommand,
    'kms:GetKeyPolicy': GetKeyPolicyCommand,
  },
} as const satisfies CommandTable;
