/**
 * The SDK commands the exemptions function may send: SNS for alerts, nothing
 * else. Its rule reads only the event (the tag and its value are in the
 * request), makes no lookup and changes nothing.
 */
import type { CommandTable } from '../../engine/aws.js';
import { snsCommands } from '../../notify/sns-commands.js';

export const exemptionCommands = {
  clients: { ...snsCommands.clients },
  commands: { ...snsCommands.commands },
} as const satisfies CommandTable;
