/** Lambda entry point for the security-groups family. */
import { securityGroupsFamily } from '../remediations/security-groups/index.js';
import { familyHandler } from './runtime.js';

export const handler = familyHandler(securityGroupsFamily);
