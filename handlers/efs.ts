/** Lambda entry point for the efs family. */
import { efsFamily } from '../remediations/efs/index.js';
import { familyHandler } from './runtime.js';

export const handler = familyHandler(efsFamily);
