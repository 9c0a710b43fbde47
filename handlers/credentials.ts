/** Lambda entry point for the credentials family (deployed in every Region: sign-ins and STS calls are recorded where they happen). */
import { credentialsFamily } from '../remediations/credentials/index.js';
import { familyHandler } from './runtime.js';

export const handler = familyHandler(credentialsFamily);
