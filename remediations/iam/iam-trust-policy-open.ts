/**
 * iam-trust-policy-open: a role whose trust policy lets in anyone, an
 * untrusted account without an external id, or any GitHub repository.
 *
 * Triggers: `UpdateAssumeRolePolicy` and `CreateRole` (its
 * `assumeRolePolicyDocument`; the response repeats it URL-encoded), from
 * `iam.amazonaws.com`. IAM events reach EventBridge in us-east-1 only, where
 * the deployment puts this rule. The document may come as JSON text or as an
 * object; one CloudTrail omitted (padded past its size limit) is a
 * high-severity "could not inspect".
 *
 * Changes: the previous trust policy is not in the event, so the rule contains
 * instead of restoring: it attaches the AWS managed `AWSDenyAll` policy to the
 * role, which makes any session of the role powerless (undo: detach it). Just
 * before, it reads the role's attachments (`ListAttachedRolePolicies`):
 * AWSDenyAll already attached (or the role gone) is already done, and then
 * nothing is attached and no undo is recorded for an attachment the bot did not
 * make; just after, it reads them again and reports the fix verified only when
 * AWSDenyAll is attached. The role's trust policy is read when the rule
 * decides (`GetRole`); when it no longer is the event's document, the attach
 * instead first reads it again and, still changed, nothing is attached (stale).
 * Only proposes: `UpdateAssumeRolePolicy` with the offending statements removed
 * (the undo of the proposal restores the event's document); it reads the trust
 * policy before (still the event's?) and after (the proposed one?). When every
 * statement offends there is no document to propose; a person writes one.
 * Never touches: the trust policy itself (only proposed), the role's other
 * policies, the bot's own roles (a person is alerted instead), roles carrying
 * the exemption tag, and a role whose trust policy changed again since the event.
 * Permissions: `iam:AttachRolePolicy` on the account's roles (ideally limited
 * by the condition `iam:PolicyARN` = `arn:aws:iam::aws:policy/AWSDenyAll`);
 * lookup `iam:GetRole` (path, tags, current trust policy); reads before and
 * after `iam:ListAttachedRolePolicies` and `iam:GetRole`.
 */
import { AttachRolePolicyCommand, DetachRolePolicyCommand, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import * as z from 'zod/mini';
import { field, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { analyzeTrustPolicy, parsePolicyDocument, type NormalizedStatement } from '../../engine/policy/analyzer.js';
import { checkedBothWays, type Facts, type Plan, type PlanStep, type RuleContext, type Verdict } from '../../engine/types.js';
import { accountOf, defineAction, defineRule, defineUndo, factValue, NO_SUCH_ENTITY, readFact } from '../../rulekit/index.js';
import { iam } from '../../rulekit/aws/iam.js';
import {
  belowNote,
  compactDocument,
  decodeSdkDocument,
  describeFindings,
  MinSeveritySchema,
  omission,
  partitionOf,
  recordedDocument,
  requestOmitted,
  sameDocument,
  splitBySeverity,
  statementJson,
  uninspectedDocument,
  verdictFindings,
  type Identity,
  type RecordedDocument,
} from './common.js';
import { botOwnReason, identityExemption } from './identity.js';
import { roleLookup } from './lookups.js';
import { ATTACHMENT_PROBES, attachmentCheck, trustPolicyCheck, trustPolicyProbe } from './probes.js';

const IamTrustPolicyOpenSettingsSchema = z.strictObject({
  /** Findings below this severity are reported, not acted on. Trusted accounts come from the global `trustedAccounts`. */
  minSeverity: MinSeveritySchema,
});
type IamTrustPolicyOpenSettings = z.infer<typeof IamTrustPolicyOpenSettingsSchema>;

/** The largest trust policy IAM accepts once its quota is raised (the default is 2,048), whitespace excluded. */
const MAX_TRUST_POLICY_CHARACTERS = 4_096;

/**
 * The trust policy the event set, as the record holds it: UpdateAssumeRolePolicy's
 * `policyDocument`; CreateRole's request, else its URL-encoded response.
 */
function recordedTrustDocument(event: CloudTrailEvent): RecordedDocument {
  const params = event.detail.requestParameters;
  if (event.detail.eventName === 'UpdateAssumeRolePolicy') return recordedDocument(params, 'policyDocument');
  const requested = recordedDocument(params, 'assumeRolePolicyDocument');
  if (requested.kind === 'document') return requested;
  const response = event.detail.responseElements;
  const responseCut = omission(response);
  const responded: RecordedDocument = responseCut !== undefined ? { kind: 'omitted', why: responseCut } : recordedDocument(field(response, 'role'), 'assumeRolePolicyDocument');
  if (responded.kind === 'document') {
    return typeof responded.value === 'string' ? { kind: 'document', value: decodeSdkDocument(responded.value) ?? responded.value } : responded;
  }
  return requested.kind === 'omitted' ? requested : responded;
}

/** The trust policy the event set as compact JSON, when the record holds it. */
export function trustDocumentOf(event: CloudTrailEvent): string | undefined {
  const recorded = recordedTrustDocument(event);
  return recorded.kind === 'document' ? compactDocument(recorded.value) : undefined;
}

function denyAllPolicyArn(partition: string): string {
  return `arn:${partition}:iam::aws:policy/AWSDenyAll`;
}

/** The only policy this function may ever attach: a compromised bot cannot grant itself or anyone admin. */
const attachDenyAll = defineAction(iam, AttachRolePolicyCommand, { condition: { ArnLike: { 'iam:PolicyARN': 'arn:*:iam::aws:policy/AWSDenyAll' } } });
const detachDenyAll = defineUndo(iam, DetachRolePolicyCommand);
/**
 * Never granted: the proposed trust policy and its undo are for a person to
 * run, so both are built as undo steps are (typed by the command, not granted).
 */
const updateTrustPolicy = defineUndo(iam, UpdateAssumeRolePolicyCommand);

/**
 * Contains the role: AWSDenyAll makes every session of it powerless; the undo
 * detaches it. Before the attach, the role's attachments are read (AWSDenyAll
 * already there: done, nothing attached, no undo recorded); with
 * `changedTrust` (the event's document, when the role was seen trusting
 * another one) the trust policy is read instead, and the attach happens only
 * if it is the event's document again. After it, the attachments are read.
 */
function planContain(roleName: string, partition: string, changedTrust?: string): Plan {
  const policyArn = denyAllPolicyArn(partition);
  const input = { RoleName: roleName, PolicyArn: policyArn };
  const role: Identity = { kind: 'role', name: roleName };
  const attached = attachmentCheck(role, policyArn, 'attached');
  return [
    attachDenyAll.step(input, {
      reason: `Attach AWSDenyAll to role ${roleName}, so whoever assumes it through the open trust policy can do nothing; the trust policy itself is left for a person (see the proposal). If IAM answers LimitExceeded, the role already has as many managed policies as its quota allows: detach one or apply the proposed trust policy by hand.`,
      undo: detachDenyAll.undo(input, `Detach AWSDenyAll from role ${roleName} once its trust policy is fixed.`),
      // NoSuchEntity: the role is gone, or the policy ARN is wrong; the read afterwards tells which.
      alreadyDoneCodes: NO_SUCH_ENTITY,
      precondition: changedTrust === undefined ? attached : trustPolicyCheck(roleName, changedTrust),
      verification: attached,
    }),
  ];
}

/** The trust policy without the offending statements, or `undefined` when none would remain. */
function trustWithout(statements: readonly NormalizedStatement[], offending: ReadonlySet<number>, version: string | undefined): string | undefined {
  const kept = statements.filter((statement) => !offending.has(statement.index));
  if (kept.length === 0) return undefined;
  return JSON.stringify({ Version: version ?? '2012-10-17', Statement: kept.map(statementJson) });
}

/**
 * The proposed trust policy, for a person to run: only while the role still
 * trusts the event's document (already the proposed one: done), verified by
 * reading it back. Its undo restores the event's document, as compact JSON.
 */
function proposeTrustFix(roleName: string, fixed: string, original: string | object, removed: readonly number[]): PlanStep {
  const restored = compactDocument(original);
  return {
    ...updateTrustPolicy.undo(
      { RoleName: roleName, PolicyDocument: fixed },
      `PROPOSAL, not applied: replace the trust policy of role ${roleName} with the same document minus statement${removed.length > 1 ? 's' : ''} ${removed.join(', ')}. Review it, then detach AWSDenyAll.`,
    ),
    undo: updateTrustPolicy.undo({ RoleName: roleName, PolicyDocument: restored }, `Restore the trust policy of role ${roleName} as the event set it.`),
    ...checkedBothWays(trustPolicyCheck(roleName, restored, fixed)),
  };
}

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext<IamTrustPolicyOpenSettings>): Verdict {
  const { settings } = context;
  const roleName = stringField(event.detail.requestParameters, 'roleName') ?? stringField(event.detail.responseElements, 'role', 'roleName');
  const recorded = recordedTrustDocument(event);
  if (!roleName) {
    const omitted = requestOmitted(event);
    if (omitted !== undefined) {
      return uninspectedDocument(`the trust policy this ${event.detail.eventName} call set`, `${omitted}, so neither the document nor the role is in the record`);
    }
    return { kind: 'skipped', reason: 'the event names no role' };
  }
  const identity: Identity = { kind: 'role', name: roleName };
  const resources = [`role ${roleName}`];
  if (recorded.kind === 'omitted') return uninspectedDocument(`the trust policy of role ${roleName}`, recorded.why, resources);
  if (recorded.kind === 'absent') return uninspectedDocument(`the trust policy of role ${roleName}`, 'the record carries no trust policy', resources);
  const document = recorded.value;

  const analysis = analyzeTrustPolicy(document, {
    trustedAccounts: context.config.trustedAccounts,
    ownAccount: accountOf(event),
    maxPolicyCharacters: MAX_TRUST_POLICY_CHARACTERS,
  });
  if (!analysis.ok) return { kind: 'skipped', reason: `the trust policy of role ${roleName} could not be analysed: ${analysis.error}`, resources };
  const { acted, below } = splitBySeverity(analysis.findings, settings.minSeverity);
  if (acted.length === 0) {
    return {
      kind: 'compliant',
      summary: `role ${roleName}: the trust policy lets in no one public, no untrusted account without an external id and no unscoped web identity${belowNote(below, settings.minSeverity)}`,
      resources,
    };
  }

  const findings = verdictFindings(acted, analysis.statements, 'trust policy');
  const own = botOwnReason(event, identity, facts, context);
  if (own) return { kind: 'exempt', reason: `${own}; its trust policy has ${describeFindings(findings)}`, resources, findings };
  const exempt = identityExemption(event, identity, facts, context);
  if (exempt) return { kind: 'exempt', reason: exempt, resources, findings };

  const offending = [...new Set(acted.map((finding) => finding.statementIndex))].sort((a, b) => a - b);
  const parsed = parsePolicyDocument(document, { maxPolicyCharacters: MAX_TRUST_POLICY_CHARACTERS });
  const version = parsed.ok ? parsed.document.version : undefined;
  const fixed = trustWithout(analysis.statements, new Set(offending), version);
  const proposal = fixed !== undefined ? [proposeTrustFix(roleName, fixed, document, offending)] : [];
  const next =
    fixed !== undefined
      ? 'proposal: the same trust policy without the offending statements'
      : 'every statement offends, so a person must write a restricted trust policy';
  // GetRole, read as the rule decides: a trust policy that is no longer the event's is read again before anything is attached.
  const current = factValue(readFact(facts, roleLookup))?.trustPolicy;
  const compact = compactDocument(document);
  const changed = current !== undefined && !sameDocument(current, compact);
  return {
    kind: 'violation',
    summary: `role ${roleName}: the trust policy has ${describeFindings(findings)}; plan: contain the role with AWSDenyAll; ${next}${changed ? '; GetRole showed another trust policy since, so it is read again before anything is attached' : ''}`,
    resources,
    findings,
    plan: planContain(roleName, partitionOf(event), changed ? compact : undefined),
    ...(proposal.length > 0 && { proposal }),
  };
}

export const iamTrustPolicyOpen = defineRule<IamTrustPolicyOpenSettings>({
  id: 'iam-trust-policy-open',
  title: 'Role trust policy open to the public, untrusted accounts or any GitHub repository',
  severity: 'critical',
  rationale:
    "A role's trust policy decides who can become the role: Principal * without a restricting condition, a foreign account without an external id, or GitHub Actions OIDC without a sub condition lets strangers (or any repository on GitHub) take its permissions.",
  triggers: [{ eventSource: 'iam.amazonaws.com', eventNames: ['CreateRole', 'UpdateAssumeRolePolicy'] }],
  actions: [attachDenyAll],
  lookups: [roleLookup],
  probes: [ATTACHMENT_PROBES.role, trustPolicyProbe],
  settings: IamTrustPolicyOpenSettingsSchema,
  evaluate,
});
