/** The security-groups family: one Lambda function holds these rules and only their permissions. */
import { sgOpenIngress } from './sg-open-ingress.js';

export const securityGroupRules = [sgOpenIngress] as const;
