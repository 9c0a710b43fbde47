/**
 * The SDK commands the cloudtrail function may send: its rule's plan steps,
 * lookups and probes (the reads before and after each step, and before a
 * proposal is sent), and SNS for alerts. The undo steps (`StopLogging`, an
 * `UpdateTrail` turning settings off) and the proposals (`PutEventSelectors`,
 * `CreateTrail`) are for people: they are deliberately absent here.
 */
import {
  CloudTrailClient,
  GetEventSelectorsCommand,
  GetTrailCommand,
  GetTrailStatusCommand,
  ListTagsCommand,
  LookupEventsCommand,
  StartLoggingCommand,
  UpdateTrailCommand,
} from '@aws-sdk/client-cloudtrail';
import type { CommandTable } from '../../engine/aws.js';
import { snsCommands } from '../../notify/sns-commands.js';

export const cloudtrailCommands = {
  clients: { ...snsCommands.clients, cloudtrail: CloudTrailClient },
  commands: {
    ...snsCommands.commands,
    'cloudtrail:StartLogging': StartLoggingCommand,
    'cloudtrail:UpdateTrail': UpdateTrailCommand,
    'cloudtrail:ListTags': ListTagsCommand,
    'cloudtrail:GetTrailStatus': GetTrailStatusCommand,
    'cloudtrail:GetTrail': GetTrailCommand,
    'cloudtrail:GetEventSelectors': GetEventSelectorsCommand,
    'cloudtrail:LookupEvents': LookupEventsCommand,
  },
} as const satisfies CommandTable;
