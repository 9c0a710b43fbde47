/**
 * The SDK commands the credentials function may send: its rules' read-only
 * lookups and probes, and SNS for alerts. Its rules only notify; the proposed
 * `UpdateAccessKey` of a root key is for the root user to run, so it is
 * deliberately absent here.
 */
import { GetAccountSummaryCommand, GetLoginProfileCommand, GetUserCommand, IAMClient, ListAccessKeysCommand, ListMFADevicesCommand } from '@aws-sdk/client-iam';
import type { CommandTable } from '../../engine/aws.js';
import { snsCommands } from '../../notify/sns-commands.js';

export const credentialCommands = {
  clients: { ...snsCommands.clients, iam: IAMClient },
  commands: {
    ...snsCommands.commands,
    'iam:GetUser': GetUserCommand,
    'iam:GetLoginProfile': GetLoginProfileCommand,
    'iam:ListMFADevices': ListMFADevicesCommand,
    'iam:GetAccountSummary': GetAccountSummaryCommand,
    'iam:ListAccessKeys': ListAccessKeysCommand,
  },
} as const satisfies CommandTable;
