/** The cloudtrail family (audit logging kept on): one Lambda function per region holds these rules and only their permissions. */
import { cloudtrailLoggingWeakened } from './cloudtrail-logging-weakened.js';

export const cloudtrailRules = [cloudtrailLoggingWeakened] as const;
