/** The efs family (Amazon EFS file systems): one Lambda function; its rule reads only the event and sends nothing but its alerts. */
import { defineFamily } from '../../rulekit/define.js';
import { efsUnencrypted } from './efs-unencrypted.js';

export const efsFamily = defineFamily({ name: 'efs', rules: [efsUnencrypted] });

/** The family's rules, as the registry and the deployment see them. */
export const efsRules = efsFamily.rules;
