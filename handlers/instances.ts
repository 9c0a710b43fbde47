/** Lambda entry point for the instances family. */
import { instancesFamily } from '../remediations/instances/index.js';
import { familyHandler } from './runtime.js';

export const handler = familyHandler(instancesFamily);
