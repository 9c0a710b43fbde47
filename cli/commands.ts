/**
 * One SDK command table for every family, for `remediate invoke`, which runs
 * any rule's plan. It merges `commandsByFamily` (one entry per deployed
 * family, enforced by its type), so a new family is covered once it is listed
 * there. Lambda handlers keep importing only their own family's table.
 */
import type { CommandTable, SdkClientConstructor, SdkCommandConstructor, SdkWaiter } from '../engine/aws.js';
import type { Service } from '../engine/types.js';
import { commandsByFamily } from '../remediations/commands.js';

export function mergeCommandTables(tables: readonly CommandTable[]): CommandTable {
  const clients: Partial<Record<Service, SdkClientConstructor>> = {};
  const commands: Record<string, SdkCommandConstructor> = {};
  const waiters: Record<string, SdkWaiter> = {};
  for (const table of tables) {
    Object.assign(clients, table.clients);
    Object.assign(commands, table.commands);
    Object.assign(waiters, table.waiters ?? {});
  }
  return { clients, commands, waiters };
}

export const allCommands: CommandTable = mergeCommandTables(Object.values(commandsByFamily));
