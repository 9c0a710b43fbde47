/** The detectors family (GuardDuty, Security Hub, AWS Config and Macie kept on): one Lambda function per Region holds this rule and only its permissions. */
import { defineFamily } from '../../rulekit/define.js';
import { detectorDisabled } from './detector-disabled.js';

export const detectorsFamily = defineFamily({ name: 'detectors', rules: [detectorDisabled] });

/** The family's rules, as the registry and the deployment see them. */
export const detectorsRules = detectorsFamily.rules;
