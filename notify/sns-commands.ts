/** SNS, which every remediation function needs to publish alerts. */
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import type { CommandTable } from '../engine/aws.js';

export const snsCommands = {
  clients: { sns: SNSClient },
  commands: { 'sns:Publish': PublishCommand },
} as const satisfies CommandTable;
