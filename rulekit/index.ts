/** The rule kit: everything a rule module needs, in one import. See `define.ts`. */
export * from './define.js';
export * from './cloudtrail.js';
export { awsService, type AwsService, type BoundCommand, type CommandClass, type InputOf } from './sdk.js';
export { ACTION_RESOURCES, ANY_RESOURCE, namesNoAccount, resourceOf } from './resources.js';
