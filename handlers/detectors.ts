/** Lambda entry point for the detectors family (deployed in every Region: GuardDuty, Security Hub, AWS Config and Macie are regional). */
import { detectorsFamily } from '../remediations/detectors/index.js';
import { familyHandler } from './runtime.js';

export const handler = familyHandler(detectorsFamily);
