/**
 * The runtime wiring of a family's Lambda function: the engine's handler with
 * the family's rules and commands, and SNS (with KMS signing) for alerts.
 * Every family handler is one call to `familyHandler`.
 */
import { mergeCommandTables, type CommandTable } from '../engine/aws.js';
import { lambdaHandler } from '../engine/handler.js';
import type { Family } from '../engine/types.js';
import { snsCommands } from '../notify/sns-commands.js';

/** The commands a family's function sends: its rules' and the alerts'. */
export function runtimeCommands(family: Family): CommandTable {
  return mergeCommandTables([family.commands, snsCommands]);
}

export function familyHandler(family: Family) {
  return lambdaHandler({ rules: family.rules, commands: runtimeCommands(family) });
}
