/**
 * The SDK commands and waiters of the ebs family: its rules' plan steps,
 * undo steps, lookups and probes (the reads before and after each step), SNS
 * for alerts, and the commands, reads and waiters of the proposed volume
 * migration, so that `remediate undo` and an approved proposal run through
 * the same table. (The function's IAM role grants only
 * the automatic plans and the lookups; undoing or migrating needs a principal
 * that holds those permissions.)
 */
import {
  AttachVolumeCommand,
  CopySnapshotCommand,
  CreateSnapshotCommand,
  CreateTagsCommand,
  CreateVolumeCommand,
  DeleteTagsCommand,
  DescribeImageAttributeCommand,
  DescribeImagesCommand,
  DescribeInstancesCommand,
  DescribeSnapshotAttributeCommand,
  DescribeSnapshotsCommand,
  DescribeVolumesCommand,
  DetachVolumeCommand,
  DisableEbsEncryptionByDefaultCommand,
  EC2Client,
  EnableEbsEncryptionByDefaultCommand,
  GetEbsDefaultKmsKeyIdCommand,
  GetEbsEncryptionByDefaultCommand,
  ModifyEbsDefaultKmsKeyIdCommand,
  ModifyImageAttributeCommand,
  ModifySnapshotAttributeCommand,
  ResetEbsDefaultKmsKeyIdCommand,
  StartInstancesCommand,
  StopInstancesCommand,
  waitUntilInstanceStopped,
  waitUntilSnapshotCompleted,
  waitUntilVolumeAvailable,
} from '@aws-sdk/client-ec2';
import type { CommandTable } from '../../engine/aws.js';
import { snsCommands } from '../../notify/sns-commands.js';

export const ebsCommands = {
  clients: { ...snsCommands.clients, ec2: EC2Client },
  commands: {
    ...snsCommands.commands,
    'ec2:EnableEbsEncryptionByDefault': EnableEbsEncryptionByDefaultCommand,
    'ec2:ModifyEbsDefaultKmsKeyId': ModifyEbsDefaultKmsKeyIdCommand,
    'ec2:CreateTags': CreateTagsCommand,
    'ec2:ModifySnapshotAttribute': ModifySnapshotAttributeCommand,
    'ec2:ModifyImageAttribute': ModifyImageAttributeCommand,
    'ec2:DescribeVolumes': DescribeVolumesCommand,
    'ec2:GetEbsEncryptionByDefault': GetEbsEncryptionByDefaultCommand,
    'ec2:GetEbsDefaultKmsKeyId': GetEbsDefaultKmsKeyIdCommand,
    'ec2:DescribeSnapshots': DescribeSnapshotsCommand,
    'ec2:DescribeSnapshotAttribute': DescribeSnapshotAttributeCommand,
    'ec2:DescribeImages': DescribeImagesCommand,
    'ec2:DescribeImageAttribute': DescribeImageAttributeCommand,
    'ec2:DescribeInstances': DescribeInstancesCommand,
    'ec2:StopInstances': StopInstancesCommand,
    'ec2:StartInstances': StartInstancesCommand,
    'ec2:CreateSnapshot': CreateSnapshotCommand,
    'ec2:CopySnapshot': CopySnapshotCommand,
    'ec2:CreateVolume': CreateVolumeCommand,
    'ec2:DetachVolume': DetachVolumeCommand,
    'ec2:AttachVolume': AttachVolumeCommand,
    // Undo only:
    'ec2:DisableEbsEncryptionByDefault': DisableEbsEncryptionByDefaultCommand,
    'ec2:ResetEbsDefaultKmsKeyId': ResetEbsDefaultKmsKeyIdCommand,
    'ec2:DeleteTags': DeleteTagsCommand,
  },
  waiters: {
    'ec2:waitUntilSnapshotCompleted': waitUntilSnapshotCompleted,
    'ec2:waitUntilVolumeAvailable': waitUntilVolumeAvailable,
    'ec2:waitUntilInstanceStopped': waitUntilInstanceStopped,
  },
} as const satisfies CommandTable;
