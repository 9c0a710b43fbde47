/**
 * The SDK commands the s3 function may send: its rules' plan steps (bucket
 * and account public access blocks, bucket ACLs), its lookups, the reads of
 * its probes (before and after each write, and the preflight of proposals),
 * and SNS for alerts. Undo-only and proposed operations
 * (DeletePublicAccessBlock, PutBucketPolicy, DeleteBucketPolicy) are
 * deliberately absent: a person runs them (`remediate undo` loads them on
 * demand), never this function.
 */
import {
  GetBucketAclCommand,
  GetBucketPolicyCommand,
  GetBucketTaggingCommand,
  GetPublicAccessBlockCommand,
  PutBucketAclCommand,
  PutPublicAccessBlockCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  GetPublicAccessBlockCommand as GetAccountPublicAccessBlockCommand,
  PutPublicAccessBlockCommand as PutAccountPublicAccessBlockCommand,
  S3ControlClient,
} from '@aws-sdk/client-s3-control';
import type { CommandTable } from '../../engine/aws.js';
import { snsCommands } from '../../notify/sns-commands.js';

export const s3Commands = {
  clients: { ...snsCommands.clients, s3: S3Client, s3control: S3ControlClient },
  commands: {
    ...snsCommands.commands,
    's3:PutPublicAccessBlock': PutPublicAccessBlockCommand,
    's3:PutBucketAcl': PutBucketAclCommand,
    's3:GetBucketTagging': GetBucketTaggingCommand,
    's3:GetBucketAcl': GetBucketAclCommand,
    's3:GetBucketPolicy': GetBucketPolicyCommand,
    's3:GetPublicAccessBlock': GetPublicAccessBlockCommand,
    's3control:PutPublicAccessBlock': PutAccountPublicAccessBlockCommand,
    's3control:GetPublicAccessBlock': GetAccountPublicAccessBlockCommand,
  },
} as const satisfies CommandTable;
