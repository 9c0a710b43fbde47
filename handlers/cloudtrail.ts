/** Lambda entry point for the cloudtrail family. */
import { cloudtrailFamily } from '../remediations/cloudtrail/index.js';
import { familyHandler } from './runtime.js';

export const handler = familyHandler(cloudtrailFamily);
