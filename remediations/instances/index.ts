/** The instances family (EC2 instance hardening: IMDSv2, the role an instance is given): one Lambda function holds these rules and only their permissions. */
import { defineFamily } from '../../rulekit/define.js';
import { ec2Imdsv1Allowed } from './ec2-imdsv1-allowed.js';
import { instanceProfileAdminRole } from './instance-profile-admin-role.js';

export const instancesFamily = defineFamily({ name: 'instances', rules: [ec2Imdsv1Allowed, instanceProfileAdminRole] });

/** The family's rules, as the registry and the deployment see them. */
export const instanceRules = instancesFamily.rules;
