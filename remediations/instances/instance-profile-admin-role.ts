/**
 * instance-profile-admin-role: an EC2 instance given a role that is admin or
 * can make itself admin. Anyone who runs code on the instance (a compromised
 * notebook, a server-side request forgery reaching the metadata service) then
 * holds the whole account.
 *
 * Triggers (`ec2.amazonaws.com`): `RunInstances` with `iamInstanceProfile`
 * (`{arn}` or `{name}`; the instances in `responseElements.instancesSet.items`),
 * and the wrapped newer APIs `AssociateIamInstanceProfile`
 * (`AssociateIamInstanceProfileRequest {InstanceId, IamInstanceProfile {Arn|Name}}`)
 * and `ReplaceIamInstanceProfileAssociation`
 * (`ReplaceIamInstanceProfileAssociationRequest {AssociationId, IamInstanceProfile}`),
 * whose responses carry the new association (`…Response.iamInstanceProfileAssociation
 * {associationId, instanceId, iamInstanceProfile {arn}}`).
 *
 * What the role may do is read, never assumed (IAM reads are global calls):
 * `GetInstanceProfile` names the role; `ListAttachedRolePolicies` and
 * `ListRolePolicies` list its policies; AWS managed policies count by name
 * (`adminPolicyNames`, as for `iam-attached-admin-policy`); the documents of
 * up to {@link MAX_INLINE} inline policies (`GetRolePolicy`) and
 * {@link MAX_MANAGED} customer-managed ones (`GetPolicy`, `GetPolicyVersion`)
 * go through the policy analyzer. A role with more policies than that, or a
 * read that fails, is reported as not fully inspected: never a pass.
 *
 * Changes (`remediate`; `notify` by default, because taking a role away from
 * a running workload can break it): `DisassociateIamInstanceProfile
 * {AssociationId}` for each instance. The association id is in the response
 * of an association call; for `RunInstances` a `DescribeIamInstanceProfileAssociations`
 * lookup by instance id gives it, else it is a placeholder a person fills in.
 * Just before and after, `DescribeIamInstanceProfileAssociations` of that
 * association: still `associating`/`associated` with the event's profile is
 * needed; `disassociating`, `disassociated` or gone is done; another profile is
 * a newer change (`stale`, nothing written). Undo: `AssociateIamInstanceProfile
 * {InstanceId, IamInstanceProfile: {Arn}}`, the same instance and profile.
 * Never touches: the role, its policies and trust policy, the instance
 * profile, the instance itself (it keeps running), instances whose profile
 * carries the exemption tag.
 * Permissions: `ec2:DisassociateIamInstanceProfile` on instances (`remediate`
 * only); reads `ec2:DescribeIamInstanceProfileAssociations` (`*`),
 * `iam:GetInstanceProfile`, `iam:ListAttachedRolePolicies`,
 * `iam:ListRolePolicies`, `iam:GetRolePolicy`, `iam:GetPolicy`,
 * `iam:GetPolicyVersion` on the account's instance profiles, roles and policies.
 */
import { AssociateIamInstanceProfileCommand, DescribeIamInstanceProfileAssociationsCommand, DisassociateIamInstanceProfileCommand } from '@aws-sdk/client-ec2';
import { GetInstanceProfileCommand, GetPolicyCommand, GetPolicyVersionCommand, GetRolePolicyCommand, ListAttachedRolePoliciesCommand, ListRolePoliciesCommand } from '@aws-sdk/client-iam';
import * as z from 'zod/mini';
import type { CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason, tagsFromList, type Tags } from '../../engine/exemption.js';
import { analyzePermissionsPolicy, IAM_POLICY_SIZE_LIMITS } from '../../engine/policy/analyzer.js';
import { checkedBothWays, unknownValue, type Facts, type Finding, type PlanStep, type RuleContext, type Severity, type Verdict } from '../../engine/types.js';
import { ec2 } from '../../rulekit/aws/ec2.js';
import { iam } from '../../rulekit/aws/iam.js';
import { defineAction, defineLookup, defineProbe, defineRule, defineUndo, factValue, field, items, NO_SUCH_ENTITY, readFact, text, type KitLookup } from '../../rulekit/index.js';
import { AdminPolicyNamesSchema, adminManagedFinding, AWS_MANAGED } from '../iam/admin-managed.js';
import { decodeSdkDocument, describeFindings, factGap, MinSeveritySchema, policyNameOf, splitBySeverity, verdictFindings } from '../iam/common.js';
import { isCustomerManaged } from '../iam/lookups.js';

/** How many inline and customer-managed policies of the role are read and analysed; more is reported as not inspected. */
export const MAX_INLINE = 3;
export const MAX_MANAGED = 3;

const InstanceProfileAdminRoleSettingsSchema = z.strictObject({
  /** AWS managed policies that count as admin-equivalent (as for `iam-attached-admin-policy`). */
  adminPolicyNames: AdminPolicyNamesSchema,
  /** Analyzer findings below this severity are reported in the summary, not acted on. */
  minSeverity: MinSeveritySchema,
});
type InstanceProfileAdminRoleSettings = z.infer<typeof InstanceProfileAdminRoleSettingsSchema>;

/** One instance the event gave the profile to, with the association when the event names it. */
interface Given {
  readonly instanceId: string;
  readonly associationId?: string;
}

/** What the event did: which profile, to which instances. */
interface Grant {
  /** The profile's name, the last part of its ARN when only the ARN is given. */
  readonly profileName: string;
  readonly profileArn?: string;
  readonly instances: readonly Given[];
}

const WRAPPERS: Readonly<Record<string, { readonly request: string; readonly response: string }>> = {
  AssociateIamInstanceProfile: { request: 'AssociateIamInstanceProfileRequest', response: 'AssociateIamInstanceProfileResponse' },
  ReplaceIamInstanceProfileAssociation: { request: 'ReplaceIamInstanceProfileAssociationRequest', response: 'ReplaceIamInstanceProfileAssociationResponse' },
};

/** The name of an instance profile ARN: its last path segment. */
function profileNameOf(arn: string): string | undefined {
  return /:instance-profile\/(?:.*\/)?([^/]+)$/.exec(arn)?.[1];
}

/** `{Arn|arn, Name|name}` as the request spells it: the name, from the ARN's last segment when only the ARN is there. */
function profileOf(specification: unknown): { profileName: string; profileArn?: string } | undefined {
  const arn = text(field(specification, 'Arn')) ?? text(field(specification, 'arn'));
  const name = text(field(specification, 'Name')) ?? text(field(specification, 'name')) ?? (arn && profileNameOf(arn));
  return name ? { profileName: name, ...(arn ? { profileArn: arn } : {}) } : undefined;
}

/** The grant the event made, `undefined` when it gave no profile, or why it cannot be read. */
function grantOf(event: CloudTrailEvent): Grant | undefined | string {
  const name = event.detail.eventName;
  if (name === 'RunInstances') {
    const requested = field(event.detail.requestParameters, 'iamInstanceProfile');
    if (requested === undefined) return undefined;
    const profile = profileOf(requested);
    if (!profile) return 'RunInstances names an iamInstanceProfile without an arn or a name';
    const instances = items(field(event.detail.responseElements, 'instancesSet')).flatMap((instance) => {
      const instanceId = text(instance['instanceId']);
      return instanceId ? [{ instanceId }] : [];
    });
    if (instances.length === 0) return 'the RunInstances record lists no instance (responseElements.instancesSet)';
    return { ...profile, instances };
  }
  const wrapper = WRAPPERS[name];
  if (!wrapper) return `${name} is not an instance-profile call`;
  const request = field(event.detail.requestParameters, wrapper.request) ?? event.detail.requestParameters;
  const association = field(event.detail.responseElements, wrapper.response, 'iamInstanceProfileAssociation');
  const profile = profileOf(field(request, 'IamInstanceProfile')) ?? profileOf(field(association, 'iamInstanceProfile'));
  if (!profile) return `the ${name} record names no instance profile`;
  const instanceId = text(field(request, 'InstanceId')) ?? text(field(association, 'instanceId'));
  if (!instanceId) return `the ${name} record names no instance`;
  const associationId = text(field(association, 'associationId'));
  // The response's ARN is the profile as EC2 resolved it.
  const resolvedArn = text(field(association, 'iamInstanceProfile', 'arn'));
  return { ...profile, ...(resolvedArn ? { profileArn: resolvedArn } : {}), instances: [{ instanceId, ...(associationId ? { associationId } : {}) }] };
}

function grantFor(event: CloudTrailEvent): Grant | undefined {
  const grant = grantOf(event);
  return typeof grant === 'object' ? grant : undefined;
}

interface ProfileFact {
  readonly arn?: string;
  readonly roleName?: string;
  readonly tags: Tags;
}

const instanceProfileLookup = defineLookup(iam, GetInstanceProfileCommand, {
  name: 'instanceProfile',
  input: (event) => {
    const grant = grantFor(event);
    return grant ? { InstanceProfileName: grant.profileName } : undefined;
  },
  select: (output): ProfileFact | null => {
    const profile = field(output, 'InstanceProfile');
    if (typeof profile !== 'object' || profile === null) return null;
    const arn = text(field(profile, 'Arn'));
    // An instance profile holds at most one role (IAM quota).
    const roleName = text(field((field(profile, 'Roles') as unknown[] | undefined)?.[0], 'RoleName'));
    return { ...(arn ? { arn } : {}), ...(roleName ? { roleName } : {}), tags: tagsFromList(field(profile, 'Tags')) };
  },
  notFoundCodes: NO_SUCH_ENTITY,
});

function roleName(facts: Facts): string | undefined {
  return factValue(readFact(facts, instanceProfileLookup))?.roleName;
}

/** One page (100) of the role's policies, once the profile named the role. */
function rolePage(_event: CloudTrailEvent, facts: Facts) {
  const role = roleName(facts);
  return role ? { RoleName: role, MaxItems: 100 } : undefined;
}

/** A list of names or ARNs, and whether IAM said there are more (one page of 100 is read). */
interface Listing {
  readonly names: readonly string[];
  readonly truncated: boolean;
}

const attachedPoliciesLookup = defineLookup(iam, ListAttachedRolePoliciesCommand, {
  name: 'roleAttachedPolicies',
  input: rolePage,
  select: (output): Listing => ({
    names: ((field(output, 'AttachedPolicies') as unknown[] | undefined) ?? []).flatMap((policy) => text(field(policy, 'PolicyArn')) ?? []),
    truncated: field(output, 'IsTruncated') === true,
  }),
  notFoundCodes: NO_SUCH_ENTITY,
});

const inlinePoliciesLookup = defineLookup(iam, ListRolePoliciesCommand, {
  name: 'roleInlinePolicies',
  input: rolePage,
  select: (output): Listing => ({
    names: ((field(output, 'PolicyNames') as unknown[] | undefined) ?? []).flatMap((name) => text(name) ?? []),
    truncated: field(output, 'IsTruncated') === true,
  }),
  notFoundCodes: NO_SUCH_ENTITY,
});

function customerManaged(facts: Facts): string[] {
  return (factValue(readFact(facts, attachedPoliciesLookup))?.names ?? []).filter(isCustomerManaged);
}

/** The `index`-th inline policy's document, read by name (`GetRolePolicy`). */
function inlinePolicyLookup(index: number) {
  return defineLookup(iam, GetRolePolicyCommand, {
    name: `roleInlinePolicy${index + 1}`,
    input: (_event, facts) => {
      const role = roleName(facts);
      const policy = factValue(readFact(facts, inlinePoliciesLookup))?.names[index];
      return role && policy ? { RoleName: role, PolicyName: policy } : undefined;
    },
    select: (output): { readonly name?: string; readonly document?: string } => {
      const name = text(field(output, 'PolicyName'));
      const document = decodeSdkDocument(field(output, 'PolicyDocument'));
      return { ...(name ? { name } : {}), ...(document !== undefined ? { document } : {}) };
    },
    notFoundCodes: NO_SUCH_ENTITY,
  });
}

/** The `index`-th customer-managed policy: `GetPolicy` for its default version, then `GetPolicyVersion` for the document. */
function managedPolicyLookups(index: number) {
  const policy = defineLookup(iam, GetPolicyCommand, {
    name: `roleManagedPolicy${index + 1}`,
    input: (_event, facts) => {
      const arn = customerManaged(facts)[index];
      return arn ? { PolicyArn: arn } : undefined;
    },
    select: (output): { readonly defaultVersionId?: string } => {
      const versionId = text(field(output, 'Policy', 'DefaultVersionId'));
      return versionId ? { defaultVersionId: versionId } : {};
    },
    notFoundCodes: NO_SUCH_ENTITY,
  });
  const version = defineLookup(iam, GetPolicyVersionCommand, {
    name: `roleManagedPolicy${index + 1}Version`,
    input: (_event, facts) => {
      const arn = customerManaged(facts)[index];
      const versionId = factValue(readFact(facts, policy))?.defaultVersionId;
      return arn && versionId ? { PolicyArn: arn, VersionId: versionId } : undefined;
    },
    select: (output): { readonly document?: string } => {
      const document = decodeSdkDocument(field(output, 'PolicyVersion', 'Document'));
      return document !== undefined ? { document } : {};
    },
    notFoundCodes: NO_SUCH_ENTITY,
  });
  return { policy, version };
}

const INLINE_LOOKUPS = Array.from({ length: MAX_INLINE }, (_, index) => inlinePolicyLookup(index));
const MANAGED_LOOKUPS = Array.from({ length: MAX_MANAGED }, (_, index) => managedPolicyLookups(index));

/** Association ids for the instances `RunInstances` started (its record names none). */
const associationsLookup = defineLookup(ec2, DescribeIamInstanceProfileAssociationsCommand, {
  name: 'profileAssociations',
  input: (event) => {
    const grant = event.detail.eventName === 'RunInstances' ? grantFor(event) : undefined;
    return grant ? { Filters: [{ Name: 'instance-id', Values: grant.instances.map((instance) => instance.instanceId) }] } : undefined;
  },
  select: (output): Readonly<Record<string, string>> =>
    Object.fromEntries(
      ((field(output, 'IamInstanceProfileAssociations') as unknown[] | undefined) ?? []).flatMap((association) => {
        const instanceId = text(field(association, 'InstanceId'));
        const associationId = text(field(association, 'AssociationId'));
        const state = text(field(association, 'State'));
        return instanceId && associationId && (state === 'associating' || state === 'associated') ? [[instanceId, associationId]] : [];
      }),
    ),
});

/** The profile named by an ARN: its last path segment, case-insensitively (IAM names are unique regardless of case). */
function sameProfile(arn: unknown, profileName: unknown): boolean {
  const name = typeof arn === 'string' ? profileNameOf(arn) : undefined;
  return typeof name === 'string' && typeof profileName === 'string' && name.toLowerCase() === profileName.toLowerCase();
}

/**
 * The association now: still the event's profile (needed), being or already
 * removed (done), or another profile (changed: a newer association, judged by
 * its own event).
 */
const associationProbe = defineProbe(ec2, DescribeIamInstanceProfileAssociationsCommand, {
  name: 'profileAssociation',
  notFoundCodes: ['InvalidAssociationID.NotFound'],
  judge(output, expected) {
    const label = `association ${String(expected['associationId'])} of instance ${String(expected['instanceId'])}`;
    const association = (field(output, 'IamInstanceProfileAssociations') as unknown[] | undefined)?.[0];
    if (association === undefined) return { state: 'done', evidence: `${label} no longer exists` };
    const state = text(field(association, 'State'));
    if (state === 'disassociating' || state === 'disassociated') return { state: 'done', evidence: `${label} is ${state}` };
    const arn = field(association, 'IamInstanceProfile', 'Arn');
    if (state !== 'associating' && state !== 'associated') throw new Error(`DescribeIamInstanceProfileAssociations answered state ${JSON.stringify(state)}`);
    if (sameProfile(arn, expected['profileName'])) return { state: 'needed', evidence: `${label} still gives instance profile ${String(arn)} (${state})` };
    return { state: 'changed', evidence: `${label} now gives ${String(arn)}, not instance profile ${String(expected['profileName'])}: nothing removed` };
  },
});

const disassociate = defineAction(ec2, DisassociateIamInstanceProfileCommand);
const reassociate = defineUndo(ec2, AssociateIamInstanceProfileCommand);

function planDisassociate(grant: Grant, profileArn: string | undefined, facts: Facts): PlanStep[] {
  const found = factValue(readFact(facts, associationsLookup)) ?? {};
  return grant.instances.map(({ instanceId, associationId }) => {
    const id = associationId ?? (Object.hasOwn(found, instanceId) ? found[instanceId] : undefined);
    const association = id ?? unknownValue(`the association id of instance ${instanceId} (aws ec2 describe-iam-instance-profile-associations --filters Name=instance-id,Values=${instanceId})`);
    const expected = { associationId: id ?? null, instanceId, profileName: grant.profileName };
    const check = associationProbe.check({ AssociationIds: [association] }, expected, `instance ${instanceId} still has instance profile ${grant.profileName}`);
    return disassociate.step(
      { AssociationId: association },
      {
        reason: `Take instance profile ${grant.profileName} away from instance ${instanceId}: code on the instance would hold the role's permissions. The instance keeps running; give it a least-privilege profile (ReplaceIamInstanceProfileAssociation or AssociateIamInstanceProfile).`,
        undo: reassociate.undo(
          { InstanceId: instanceId, IamInstanceProfile: profileArn ? { Arn: profileArn } : { Name: grant.profileName } },
          `Give instance ${instanceId} instance profile ${grant.profileName} again.`,
        ),
        alreadyDoneCodes: ['InvalidAssociationID.NotFound'],
        ...checkedBothWays(check),
      },
    );
  });
}

interface RoleAssessment {
  readonly findings: Finding[];
  /** What could not be read or analysed, each with its reason. */
  readonly gaps: string[];
  /** Analyzer findings below `minSeverity`, for the summary. */
  readonly below: number;
}

function assessRole(role: string, facts: Facts, settings: InstanceProfileAdminRoleSettings): RoleAssessment {
  const findings: Finding[] = [];
  const gaps: string[] = [];
  let below = 0;
  const analyse = (document: string, where: string, maxPolicyCharacters: number) => {
    const analysis = analyzePermissionsPolicy(document, { maxPolicyCharacters });
    if (!analysis.ok) return void gaps.push(`${where} could not be analysed: ${analysis.error}`);
    const split = splitBySeverity(analysis.findings, settings.minSeverity);
    below += split.below.length;
    findings.push(...verdictFindings(split.acted, analysis.statements, where));
  };

  const attached = readFact(facts, attachedPoliciesLookup);
  const attachedList = factValue(attached);
  if (!attachedList) gaps.push(`the managed policies of role ${role} could not be listed (${factGap(attached, 'ListAttachedRolePolicies')})`);
  else {
    if (attachedList.truncated) gaps.push(`role ${role} has more than 100 managed policies attached; only the first 100 were listed`);
    for (const arn of attachedList.names) {
      const awsName = AWS_MANAGED.exec(arn)?.[1];
      const finding = awsName !== undefined ? adminManagedFinding(arn, awsName, settings.adminPolicyNames) : undefined;
      if (finding) findings.push({ ...finding, subject: `role ${role}: ${finding.subject ?? arn}` });
    }
    customerManaged(facts).forEach((arn, index) => {
      const lookups = MANAGED_LOOKUPS[index];
      if (!lookups) return void gaps.push(`customer-managed policy ${policyNameOf(arn)} was not read (only the first ${MAX_MANAGED} are)`);
      const version = readFact(facts, lookups.version);
      const document = factValue(version)?.document;
      if (document === undefined) return void gaps.push(`customer-managed policy ${policyNameOf(arn)} could not be read (${version ? factGap(version, 'GetPolicyVersion') : factGap(readFact(facts, lookups.policy), 'GetPolicy')})`);
      analyse(document, `role ${role}, policy ${policyNameOf(arn)}`, IAM_POLICY_SIZE_LIMITS.managedPolicy);
    });
  }

  const inline = readFact(facts, inlinePoliciesLookup);
  const inlineList = factValue(inline);
  if (!inlineList) gaps.push(`the inline policies of role ${role} could not be listed (${factGap(inline, 'ListRolePolicies')})`);
  else {
    if (inlineList.truncated) gaps.push(`role ${role} has more than 100 inline policies; only the first 100 were listed`);
    inlineList.names.forEach((name, index) => {
      const lookup: KitLookup<{ readonly document?: string }> | undefined = INLINE_LOOKUPS[index];
      if (!lookup) return void gaps.push(`inline policy ${name} was not read (only the first ${MAX_INLINE} are)`);
      const fact = readFact(facts, lookup);
      const document = factValue(fact)?.document;
      if (document === undefined) return void gaps.push(`inline policy ${name} could not be read (${factGap(fact, 'GetRolePolicy')})`);
      analyse(document, `role ${role}, inline policy ${name}`, IAM_POLICY_SIZE_LIMITS.roleInlinePolicies);
    });
  }
  return { findings, gaps, below };
}

/** As grave as what may hide there: a role on an instance that could not be inspected may be an admin one. */
const BLIND_SPOT: Severity = 'high';

/**
 * A role the bot could not read in full is reported, never passed: a finding
 * at medium severity that says what was not read, with no plan (nothing is
 * taken away on a guess).
 */
function notInspected(given: string, resources: readonly string[], gaps: readonly string[]): Verdict {
  const why = gaps.join('; ');
  return {
    kind: 'violation',
    summary: `${given}: what the role may do is unknown (${why})`,
    resources,
    findings: [
      {
        code: 'instance-role-not-inspected',
        severity: 'medium',
        message: `${given}, and what its role may do could not be read in full (${why}). If the role is admin or can make itself admin, code on the instance holds the account: check the role's policies.`,
        subject: given,
      },
    ],
    plan: [],
  };
}

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext<InstanceProfileAdminRoleSettings>): Verdict {
  const grant = grantOf(event);
  if (grant === undefined) return { kind: 'compliant', summary: 'RunInstances gave the instances no instance profile', resources: [] };
  if (typeof grant === 'string') return { kind: 'skipped', reason: grant, severity: BLIND_SPOT };
  const resources = grant.instances.map((instance) => instance.instanceId);
  const given = `instance profile ${grant.profileName} given to ${resources.join(', ')}`;

  const profileFact = readFact(facts, instanceProfileLookup);
  const profile = factValue(profileFact);
  if (profile === null) return { kind: 'skipped', reason: `${given}: GetInstanceProfile finds no such profile now, so its role cannot be read`, resources, severity: 'medium' };
  if (!profile) return notInspected(given, resources, [`its role could not be read (${factGap(profileFact, 'GetInstanceProfile')})`]);
  if (!profile.roleName) return { kind: 'compliant', summary: `${given}: the profile holds no role`, resources };

  const role = profile.roleName;
  const { findings, gaps, below } = assessRole(role, facts, context.settings);
  const unread = gaps.length > 0 ? ` Not inspected: ${gaps.join('; ')}.` : '';
  if (findings.length === 0) {
    if (gaps.length > 0) return notInspected(`${given} (role ${role}): no admin grant in what could be read, but`, resources, gaps);
    return { kind: 'compliant', summary: `${given}: role ${role} has no admin, service-wide or escalation permission at or above ${context.settings.minSeverity}${below > 0 ? ` (${below} finding(s) below)` : ''}`, resources };
  }
  const exempt = exemptionReason(profile.tags, context.config);
  if (exempt) return { kind: 'exempt', reason: `instance profile ${grant.profileName} is ${exempt}`, resources, findings };
  return {
    kind: 'violation',
    summary: `${given}: role ${role} grants ${describeFindings(findings)}.${unread}`,
    resources,
    findings,
    plan: planDisassociate(grant, grant.profileArn ?? profile.arn, facts),
  };
}

export const instanceProfileAdminRole = defineRule<InstanceProfileAdminRoleSettings>({
  id: 'instance-profile-admin-role',
  title: 'Instance given an admin role',
  severity: 'critical',
  defaultMode: 'notify',
  rationale:
    'The role of an instance profile is handed to any code on the instance through the metadata service. An admin or self-escalating role there turns one compromised notebook host or web server into the whole account; the EC2 guidance puts least privilege for that role first.',
  triggers: [{ eventSource: 'ec2.amazonaws.com', eventNames: ['RunInstances', 'AssociateIamInstanceProfile', 'ReplaceIamInstanceProfileAssociation'] }],
  actions: [disassociate],
  lookups: [
    instanceProfileLookup,
    attachedPoliciesLookup,
    inlinePoliciesLookup,
    ...INLINE_LOOKUPS,
    ...MANAGED_LOOKUPS.flatMap(({ policy, version }) => [policy, version]),
    associationsLookup,
  ],
  probes: [associationProbe],
  settings: InstanceProfileAdminRoleSettingsSchema,
  evaluate,
});
