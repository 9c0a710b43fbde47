/** Rules as the registry holds them: stamped with their family by `defineFamily`, as the engine runs them. */
import type { Rule } from '../../engine/types.js';
import { findRule } from '../../remediations/registry.js';

export function registeredRule(id: string): Rule {
  const rule = findRule(id);
  if (!rule) throw new Error(`no rule ${id} in the registry`);
  return rule;
}
