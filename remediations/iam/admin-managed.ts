/**
 * AWS managed policies that count as admin-equivalent, shared by every rule
 * that judges what a role or user is given: `iam-attached-admin-policy` (an
 * attachment) and `instance-profile-admin-role` (the role an instance gets).
 * They are recognised by name (the `adminPolicyNames` setting of each rule):
 * AWS managed policies live in the `aws` pseudo-account and change without an
 * event in the customer's account, so their documents are not analysed.
 */
import * as z from 'zod/mini';
import type { Finding, Severity } from '../../engine/types.js';

export const DEFAULT_ADMIN_POLICY_NAMES = ['AdministratorAccess', 'IAMFullAccess', 'PowerUserAccess'] as const;

/** The `adminPolicyNames` setting: names after `policy/`, path included (`job-function/NetworkAdministrator`). */
export const AdminPolicyNamesSchema = z._default(z.array(z.string().check(z.minLength(1), z.maxLength(512))), [...DEFAULT_ADMIN_POLICY_NAMES]);

/** An AWS managed policy ARN; group 1 is its name with its path. */
export const AWS_MANAGED = /^arn:[^:]+:iam::aws:policy\/(.+)$/;

/** What each AWS managed admin-equivalent policy grants, and how grave that is. */
const ADMIN_MANAGED: Readonly<Record<string, { readonly why: string; readonly severity: Severity }>> = {
  administratoraccess: { why: 'allows every action on every resource: full administrator access', severity: 'critical' },
  iamfullaccess: { why: 'allows every IAM action, so its holder can grant themselves any permission', severity: 'critical' },
  // No IAM: its holder cannot grant itself more, but can read and destroy any data.
  poweruseraccess: {
    why: 'allows every action except IAM, Organizations and Account management on every resource, enough to read and destroy any data',
    severity: 'high',
  },
};

/** Why the AWS managed policy `name` counts as admin-equivalent. */
export function adminWhy(name: string): string {
  return (Object.hasOwn(ADMIN_MANAGED, name.toLowerCase()) ? ADMIN_MANAGED[name.toLowerCase()]?.why : undefined) ?? 'is listed as admin-equivalent in the rule settings (adminPolicyNames)';
}

/** The finding for an AWS managed policy in `adminPolicyNames`, or `undefined` when it is not listed. */
export function adminManagedFinding(policyArn: string, name: string, adminPolicyNames: readonly string[]): Finding | undefined {
  if (!adminPolicyNames.some((admin) => admin.toLowerCase() === name.toLowerCase())) return undefined;
  const known = Object.hasOwn(ADMIN_MANAGED, name.toLowerCase()) ? ADMIN_MANAGED[name.toLowerCase()] : undefined;
  // A policy people listed as admin-equivalent is as grave as AdministratorAccess.
  return { code: 'admin-managed-policy', severity: known?.severity ?? 'critical', message: `AWS managed policy ${name} ${adminWhy(name)}.`, subject: policyArn };
}
