/** Lambda entry point for the s3 family. */
import { s3Family } from '../remediations/s3/index.js';
import { familyHandler } from './runtime.js';

export const handler = familyHandler(s3Family);
