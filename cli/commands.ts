/**
 * One SDK command table for every family, for `remediate invoke` and
 * `remediate undo`, which run any rule's plan: the registry's families'
 * tables (a new family is covered once it is listed there) and SNS for alerts.
 * Lambda handlers carry only their own family's table.
 */
import { mergeCommandTables, type CommandTable } from '../engine/aws.js';
import { commandsByFamily } from '../remediations/registry.js';
import { snsCommands } from '../notify/sns-commands.js';

export const allCommands: CommandTable = mergeCommandTables([...Object.values(commandsByFamily), snsCommands]);
