/**
 * The SDK commands the kms function may send: its rule's plan steps and
 * lookups, and SNS for alerts. Undo-only and proposed operations
 * (ScheduleKeyDeletion, DisableKey, DisableKeyRotation, PutKeyPolicy) are
 * deliberately absent: a person runs them, never this function.
 */
import {
  CancelKeyDeletionCommand,
  DescribeKeyCommand,
  EnableKeyCommand,
  EnableKeyRotationCommand,
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
  },
} as const satisfies CommandTable;
