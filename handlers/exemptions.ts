/** Lambda entry point for the exemptions family: an alert whenever the exemption tag is added to a resource. */
import { exemptionsFamily } from '../remediations/exemptions/index.js';
import { familyHandler } from './runtime.js';

export const handler = familyHandler(exemptionsFamily);
