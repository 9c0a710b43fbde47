/**
 * The AWS Config service for the rule kit, named `configservice` as its SDK
 * commands' Smithy namespace (`com.amazonaws.configservice`) and the AWS CLI
 * (`aws configservice …`) name it; its IAM actions are `config:…`
 * (`engine/iam-actions.ts`). Only rules that call it import it, so only their
 * bundles carry its client.
 */
import { ConfigServiceClient } from '@aws-sdk/client-config-service';
import { awsService } from '../sdk.js';

export const configservice = awsService('configservice', ConfigServiceClient);
