/** Lambda entry point for the kms family. */
import { kmsFamily } from '../remediations/kms/index.js';
import { familyHandler } from './runtime.js';

export const handler = familyHandler(kmsFamily);
