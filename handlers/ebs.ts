/** Lambda entry point for the ebs family. */
import { ebsFamily } from '../remediations/ebs/index.js';
import { familyHandler } from './runtime.js';

export const handler = familyHandler(ebsFamily);
