/**
 * The SDK commands the security-groups function may send: its rules' plan
 * steps and lookups, and SNS for alerts. A meta-test checks this table covers
 * every operation the family's rules can emit.
 */
import {
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  RevokeSecurityGroupIngressCommand,
} from '@aws-sdk/client-ec2';
import type { CommandTable } from '../../engine/aws.js';
import { snsCommands } from '../../notify/sns-commands.js';

export const securityGroupCommands = {
  clients: { ...snsCommands.clients, ec2: EC2Client },
  commands: {
    ...snsCommands.commands,
    'ec2:RevokeSecurityGroupIngress': RevokeSecurityGroupIngressCommand,
    'ec2:DescribeSecurityGroups': DescribeSecurityGroupsCommand,
    'ec2:DescribeSecurityGroupRules': DescribeSecurityGroupRulesCommand,
  },
} as const satisfies CommandTable;
