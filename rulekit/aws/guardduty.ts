/** The guardduty service for the rule kit: only rules that call it import it, so only their bundles carry its client. */
import { GuardDutyClient } from '@aws-sdk/client-guardduty';
import { awsService } from '../sdk.js';

export const guardduty = awsService('guardduty', GuardDutyClient);
