/**
 * sagemaker-domain-internet: a SageMaker AI (Studio) domain whose apps reach
 * the internet directly, or whose volumes have no customer managed KMS key.
 * `notify` by default.
 *
 * Triggers: `CreateDomain` and `UpdateDomain`.
 * - `CreateDomain`: `AppNetworkAccessType` `PublicInternetOnly`, or omitted
 *   (the API reference: "The default value is `PublicInternetOnly`"): the
 *   apps' non-EFS traffic goes through a VPC managed by SageMaker AI, which
 *   allows direct internet access (high). No `KmsKeyId` (nor the deprecated
 *   `HomeEfsFileSystemKmsKeyId`): SageMaker AI encrypts the domain's EFS and
 *   EBS volumes with an AWS managed key (low). `UpdateDomain` has no
 *   `KmsKeyId`: the key is chosen at creation only.
 * - `UpdateDomain`: only a change counts, so only a request that sets
 *   `AppNetworkAccessType` to `PublicInternetOnly`; an omitted member leaves
 *   the network type as it was.
 *
 * Changes: nothing, in any mode. The finding says what moving the domain to
 * `VpcOnly` takes (the API reference): no app `InService`, `Pending` or
 * `Deleting` (UpdateDomain refuses the change otherwise), not at all once
 * RStudio's `DomainExecutionRoleArn` is set; subnets and security groups in
 * the VPC, NFS (TCP 2049) allowed both ways; interface endpoints for the
 * SageMaker AI API and runtime, or a NAT gateway.
 * Never touches: the domain, its apps, user profiles, spaces and volumes.
 * Exemption: the tag in `CreateDomain`'s `Tags`. An `UpdateDomain` request
 * carries no tags and the rule makes no lookup: exempt such a domain in the
 * config's `exemptions` by its id or ARN.
 * Permissions: none.
 */
import type { CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason } from '../../engine/exemption.js';
import type { Finding, Verdict, RuleContext, Facts } from '../../engine/types.js';
import { defineRule } from '../../rulekit/index.js';
import { requestTags, responseArn, sagemakerArn, stringParam } from './common.js';

const isCreate = (event: CloudTrailEvent) => event.detail.eventName === 'CreateDomain';

/** What `UpdateDomain` needs before it moves a domain to `VpcOnly`, from the SageMaker AI API reference (`UpdateDomain`, `CreateDomain`, `UserSettings`). */
export const VPC_ONLY_STEP =
  'To move the domain to VpcOnly: delete its apps first (UpdateDomain changes AppNetworkAccessType only while no app is InService, Pending or Deleting, and never once RStudioServerProDomainSettings.DomainExecutionRoleArn is set: such a domain must be recreated); give it subnets in your VPC and security groups (DefaultUserSettings.SecurityGroups, required with VpcOnly) that allow NFS on TCP 2049 inbound and outbound; and give the VPC interface endpoints for the SageMaker AI API and runtime, or a NAT gateway, or Studio cannot run notebooks, train or host models.';

function publicInternetFinding(event: CloudTrailEvent, omitted: boolean): Finding {
  const how = isCreate(event)
    ? `AppNetworkAccessType is PublicInternetOnly${omitted ? ' (omitted: the API default is PublicInternetOnly)' : ''}`
    : 'UpdateDomain set AppNetworkAccessType to PublicInternetOnly';
  return {
    code: 'public-internet-access',
    severity: 'high',
    message: `${how}: the Studio apps' traffic other than to EFS goes through a VPC managed by SageMaker AI with direct internet access, outside your VPC's security groups, endpoints and flow logs. ${VPC_ONLY_STEP}`,
    subject: 'AppNetworkAccessType',
  };
}

const NO_KMS_KEY: Finding = {
  code: 'no-customer-managed-key',
  severity: 'low',
  message:
    "No KmsKeyId: SageMaker AI encrypts the domain's EFS and EBS volumes (every user's home directory) with an AWS managed key, so access to them cannot be revoked or audited through a key of your own. UpdateDomain takes no KmsKeyId: a customer managed key needs a new domain.",
  subject: 'KmsKeyId',
};

const LABELS: Readonly<Record<string, string>> = {
  'public-internet-access': 'direct internet access (PublicInternetOnly)',
  'no-customer-managed-key': 'no customer managed KMS key',
};

function isPublicInternet(value: string): boolean {
  return value.toLowerCase() === 'publicinternetonly';
}

function evaluate(event: CloudTrailEvent, _facts: Facts, context: RuleContext): Verdict {
  const request = event.detail.requestParameters;
  const create = isCreate(event);
  const id = create ? stringParam(event.detail.responseElements, 'DomainId') : stringParam(request, 'DomainId');
  const name = create ? stringParam(request, 'DomainName') : undefined;
  const label = name && id ? `${name} (${id})` : (name ?? id);
  if (!label) return { kind: 'skipped', reason: 'the event names no domain' };
  const resources = [responseArn(event, 'DomainArn') ?? (id ? sagemakerArn(event, 'domain', id) : label)];

  const network = stringParam(request, 'AppNetworkAccessType');
  const findings: Finding[] = [];
  if (create) {
    if (network === undefined || isPublicInternet(network)) findings.push(publicInternetFinding(event, network === undefined));
    if (!stringParam(request, 'KmsKeyId') && !stringParam(request, 'HomeEfsFileSystemKmsKeyId')) findings.push(NO_KMS_KEY);
  } else if (network !== undefined && isPublicInternet(network)) {
    findings.push(publicInternetFinding(event, false));
  }

  if (findings.length === 0) {
    const summary = create
      ? `domain ${label} was created ${network ?? 'VpcOnly'}, with a customer managed KMS key`
      : `UpdateDomain on ${label} did not set AppNetworkAccessType to PublicInternetOnly${network ? ` (it set ${network})` : ''}`;
    return { kind: 'compliant', summary, resources };
  }

  // An update carries no tags: the config's `exemptions` (applied by the engine) is its exemption.
  const exempt = create ? exemptionReason(requestTags(request), context.config) : undefined;
  if (exempt) return { kind: 'exempt', reason: `domain ${label} is ${exempt}`, resources, findings };

  return {
    kind: 'violation',
    summary: `domain ${label} ${create ? 'created' : 'updated'} with ${findings.map((f) => LABELS[f.code] ?? f.code).join(', ')}`,
    resources,
    findings,
    plan: [],
  };
}

export const sagemakerDomainInternet = defineRule({
  id: 'sagemaker-domain-internet',
  title: 'SageMaker domain with direct internet access',
  severity: 'high',
  rationale:
    "A SageMaker AI domain gives every user Studio apps with the execution role's credentials and a shared home directory. With PublicInternetOnly, those apps reach the internet directly: data can leave, and code can arrive, past the VPC's security groups, endpoints and flow logs.",
  defaultMode: 'notify',
  triggers: [{ eventSource: 'sagemaker.amazonaws.com', eventNames: ['CreateDomain', 'UpdateDomain'] }],
  evaluate,
});
