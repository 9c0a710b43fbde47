/** Lambda entry point for the sagemaker family. */
import { sagemakerFamily } from '../remediations/sagemaker/index.js';
import { familyHandler } from './runtime.js';

export const handler = familyHandler(sagemakerFamily);
