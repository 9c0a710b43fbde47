/**
 * A value shared by every event that reads it (a cache of the decision path)
 * is frozen whole, so no reader can change it under the next.
 */
export function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const item of Object.values(value)) deepFreeze(item);
  }
  return value;
}
