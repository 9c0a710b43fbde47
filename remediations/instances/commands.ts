/**
 * The SDK commands the instances function may send: its rule's plan step,
 * lookup and probe (`DescribeInstances` serves both), and SNS for alerts. A meta-test checks this table covers every
 * operation the family's rules can emit.
 */
import { DescribeInstancesCommand, EC2Client, ModifyInstanceMetadataOptionsCommand } from '@aws-sdk/client-ec2';
import type { CommandTable } from '../../engine/aws.js';
import { snsCommands } from '../../notify/sns-commands.js';

export const instanceCommands = {
  clients: { ...snsCommands.clients, ec2: EC2Client },
  commands: {
    ...snsCommands.commands,
    'ec2:ModifyInstanceMetadataOptions': ModifyInstanceMetadataOptionsCommand,
    'ec2:DescribeInstances': DescribeInstancesCommand,
  },
} as const satisfies CommandTable;
