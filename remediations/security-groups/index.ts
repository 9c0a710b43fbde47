/** The security-groups family: one Lambda function holds these rules and only their permissions. */
import { defineFamily } from '../../rulekit/define.js';
import { naclOpenIngress } from './nacl-open-ingress.js';
import { sgOpenIngress } from './sg-open-ingress.js';
import { vpcFlowLogsDeleted } from './vpc-flow-logs-deleted.js';

export const securityGroupsFamily = defineFamily({ name: 'security-groups', rules: [sgOpenIngress, naclOpenIngress, vpcFlowLogsDeleted] });

/** The family's rules, as the registry and the deployment see them. */
export const securityGroupRules = securityGroupsFamily.rules;
