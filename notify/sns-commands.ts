/**
 * SNS, which every remediation function needs to publish alerts, and KMS
 * `GenerateMac`, with which it signs them (`alert-signature.ts`). Only these
 * two commands: the bundles carry nothing else of either client.
 */
import { GenerateMacCommand, KMSClient } from '@aws-sdk/client-kms';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { CommandTable } from '../engine/aws.js';

export const snsCommands = {
  clients: { sns: SNSClient, kms: KMSClient },
  commands: { 'sns:Publish': PublishCommand, 'kms:GenerateMac': GenerateMacCommand },
} as const satisfies CommandTable;

