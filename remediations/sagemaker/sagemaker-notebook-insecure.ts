/**
 * sagemaker-notebook-insecure: a SageMaker notebook instance that is not
 * private and encrypted.
 *
 * Triggers: `CreateNotebookInstance` and `UpdateNotebookInstance`.
 * - `CreateNotebookInstance`: one finding each for direct internet access,
 *   root access, no `KmsKeyId`, no `SubnetId` (not in a VPC). An omitted
 *   `DirectInternetAccess` or `RootAccess` is the API default, `Enabled`, and
 *   counts as enabled.
 * - `UpdateNotebookInstance`: root access turned on. An update cannot change
 *   `DirectInternetAccess`, `SubnetId` or `KmsKeyId` (they are not members of
 *   `UpdateNotebookInstance`), so those were settled at creation.
 *
 * Changes: nothing, in any mode. The plan is always empty.
 * Proposes: `StopNotebookInstance` (undo: `StartNotebookInstance`); for root
 * access, a wait until the notebook has stopped (`waitUntilNotebookInstanceStopped`),
 * `UpdateNotebookInstance {RootAccess: Disabled}` (undo: the value the event
 * set, `Enabled`) and, when nothing else needs fixing, `StartNotebookInstance`.
 * Direct internet access, the subnet and the KMS key can only be fixed by
 * recreating the notebook: the alert describes that as a step for a person.
 * Never touches: the notebook's data; no notebook is ever deleted, and nothing
 * is applied automatically. Notebooks carrying the exemption tag.
 * Permissions: none for the bot (it applies nothing); lookup
 * `sagemaker:ListTags` for the exemption tag of an updated notebook. A person
 * running the proposal needs `sagemaker:StopNotebookInstance`,
 * `sagemaker:DescribeNotebookInstance` (the wait), `sagemaker:UpdateNotebookInstance`
 * and `sagemaker:StartNotebookInstance` on the notebook.
 */
import type { CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason, tagsFromFact, tagsFromList, type Tags } from '../../engine/exemption.js';
import type { Facts, Finding, Lookup, Plan, PlanStep, Rule, RuleContext, Verdict } from '../../engine/types.js';
import { enabledSetting, param, requestTags, responseArn, sagemakerArn, stringParam } from './common.js';

const isCreate = (event: CloudTrailEvent) => event.detail.eventName === 'CreateNotebookInstance';

function notebookName(event: CloudTrailEvent): string | undefined {
  return stringParam(event.detail.requestParameters, 'NotebookInstanceName');
}

function notebookArn(event: CloudTrailEvent, name: string): string {
  return responseArn(event, 'NotebookInstanceArn') ?? sagemakerArn(event, 'notebook-instance', name);
}

/** Only an update that turned root access on needs the notebook's tags: creates carry theirs. */
const notebookTagsLookup: Lookup = {
  name: 'notebookTags',
  service: 'sagemaker',
  operation: 'ListTags',
  permission: 'sagemaker:ListTags',
  resource: 'arn:${AWS::Partition}:sagemaker:${AWS::Region}:${AWS::AccountId}:notebook-instance/*',
  input: (event) => {
    const name = notebookName(event);
    if (isCreate(event) || !name) return undefined;
    return enabledSetting(param(event.detail.requestParameters, 'RootAccess'), 'Disabled').enabled ? { ResourceArn: notebookArn(event, name) } : undefined;
  },
  select: (output) => ({ tags: tagsFromList(param(output, 'Tags')) }),
  // A notebook that no longer exists; any other error leaves the fact unavailable, and the violation is still reported.
  notFoundCodes: ['ResourceNotFound'],
};

const LABELS: Readonly<Record<string, string>> = {
  'direct-internet-access': 'direct internet access',
  'root-access': 'root access',
  'no-kms-key': 'no KMS key',
  'not-in-vpc': 'no VPC subnet',
};

export const RECREATE_STEP =
  'Recreate the notebook privately: create a new notebook instance with a SubnetId and SecurityGroupIds in your VPC, DirectInternetAccess Disabled, RootAccess Disabled and a KmsKeyId; move the work across (Git, or S3 from /home/ec2-user/SageMaker); then retire the old notebook yourself. The bot never deletes a notebook.';

function createFindings(request: unknown): Finding[] {
  const findings: Finding[] = [];
  const internet = enabledSetting(param(request, 'DirectInternetAccess'), 'Enabled');
  if (internet.enabled) {
    findings.push({
      code: 'direct-internet-access',
      severity: 'high',
      message: `Direct internet access is enabled${internet.omitted ? ' (DirectInternetAccess was omitted: the API default is Enabled)' : ''}; data can leave, and code can arrive, without passing the VPC's controls. It cannot be turned off by UpdateNotebookInstance: the notebook must be recreated.`,
      subject: 'DirectInternetAccess',
    });
  }
  const root = enabledSetting(param(request, 'RootAccess'), 'Enabled');
  if (root.enabled) findings.push(rootFinding(root.omitted));
  if (!stringParam(request, 'KmsKeyId')) {
    findings.push({
      code: 'no-kms-key',
      severity: 'medium',
      message: 'No KmsKeyId: the ML storage volume is not encrypted with a customer managed KMS key. A key cannot be added by UpdateNotebookInstance: the notebook must be recreated.',
      subject: 'KmsKeyId',
    });
  }
  if (!stringParam(request, 'SubnetId')) {
    findings.push({
      code: 'not-in-vpc',
      severity: 'medium',
      message: 'No SubnetId: the notebook is not in your VPC, so security groups, VPC endpoints and flow logs do not apply to it. A subnet cannot be added by UpdateNotebookInstance: the notebook must be recreated.',
      subject: 'SubnetId',
    });
  }
  return findings;
}

function rootFinding(omitted: boolean): Finding {
  return {
    code: 'root-access',
    severity: 'medium',
    message: `Root access is enabled for notebook users${omitted ? ' (RootAccess was omitted: the API default is Enabled)' : ''}; any user can change the instance, install software and read every credential on it.`,
    subject: 'RootAccess',
  };
}

/** The containment a person runs: stop; for root access, update while stopped and start again if nothing else is wrong. */
export function planProposal(name: string, findings: readonly Finding[]): Plan {
  const byName = { NotebookInstanceName: name };
  const recreate = findings.some((f) => f.code !== 'root-access');
  const stop: PlanStep = {
    service: 'sagemaker',
    operation: 'StopNotebookInstance',
    input: byName,
    reason: `Stop ${name}: a stopped notebook serves nobody and reaches nothing. Its ML storage volume is kept.${recreate ? ` Then, as a person: ${RECREATE_STEP}` : ''}`,
    undo: { service: 'sagemaker', operation: 'StartNotebookInstance', input: byName, reason: `Start ${name} again.` },
    // SageMaker answers ValidationException "Status (Stopped) not in ([InService])" for a notebook that is not running.
    alreadyDoneCodes: ['ValidationException'],
  };
  if (!findings.some((f) => f.code === 'root-access')) return [stop];
  const steps: PlanStep[] = [
    stop,
    {
      service: 'sagemaker',
      operation: 'waitUntilNotebookInstanceStopped',
      kind: 'wait',
      input: byName,
      reason: `Wait until ${name} has stopped: UpdateNotebookInstance only accepts a stopped notebook.`,
    },
    {
      service: 'sagemaker',
      operation: 'UpdateNotebookInstance',
      input: { ...byName, RootAccess: 'Disabled' },
      reason: `Turn root access off for the users of ${name}. (Lifecycle configurations still run as root.)`,
      undo: { service: 'sagemaker', operation: 'UpdateNotebookInstance', input: { ...byName, RootAccess: 'Enabled' }, reason: 'Turn root access on again, as the event set it.' },
    },
  ];
  if (!recreate) {
    steps.push({
      service: 'sagemaker',
      operation: 'StartNotebookInstance',
      input: byName,
      reason: `Start ${name} again, now without root access (skip this step if it should stay stopped).`,
      undo: { service: 'sagemaker', operation: 'StopNotebookInstance', input: byName, reason: `Stop ${name} again.` },
      // ValidationException: the notebook is already InService or Pending.
      alreadyDoneCodes: ['ValidationException'],
    });
  }
  return steps;
}

function exemption(event: CloudTrailEvent, facts: Facts, context: RuleContext): { reason?: string; gone?: boolean; unknown?: string } {
  let tags: Tags | undefined;
  if (isCreate(event)) tags = requestTags(event.detail.requestParameters);
  else {
    const fact = facts['notebookTags'];
    if (fact?.status === 'ok' && fact.value === null) return { gone: true };
    if (fact?.status !== 'ok') return { unknown: fact?.reason ?? 'ListTags was not run' };
    tags = tagsFromFact(fact);
  }
  const reason = exemptionReason(tags, context.config);
  return reason ? { reason } : {};
}

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict {
  const name = notebookName(event);
  if (!name) return { kind: 'skipped', reason: 'the event names no notebook instance' };
  const resources = [notebookArn(event, name)];
  const request = event.detail.requestParameters;

  let findings: Finding[];
  if (isCreate(event)) {
    findings = createFindings(request);
    if (findings.length === 0) {
      return { kind: 'compliant', summary: `${name} was created in a VPC subnet, without direct internet access or root access, with a KMS key`, resources };
    }
  } else {
    const root = enabledSetting(param(request, 'RootAccess'), 'Disabled');
    if (!root.enabled) {
      return {
        kind: 'compliant',
        summary: `UpdateNotebookInstance on ${name} did not turn root access on (DirectInternetAccess, SubnetId and KmsKeyId cannot be changed by an update)`,
        resources,
      };
    }
    findings = [rootFinding(false)];
  }

  const exempt = exemption(event, facts, context);
  if (exempt.gone) return { kind: 'skipped', reason: `notebook instance ${name} no longer exists`, resources };
  if (exempt.reason) return { kind: 'exempt', reason: `${name} is ${exempt.reason}`, resources };

  const recreate = findings.some((f) => f.code !== 'root-access');
  const what = findings.map((f) => LABELS[f.code] ?? f.code).join(', ');
  const unknownTags = exempt.unknown ? ` (exemption tag not checked: ${exempt.unknown})` : '';
  return {
    kind: 'violation',
    summary: `${name} ${isCreate(event) ? 'created' : 'updated'} with ${what}${recreate ? '; proposed: stop it, then recreate it privately' : '; proposed: stop it and turn root access off'}${unknownTags}`,
    resources,
    findings,
    plan: [],
    proposal: planProposal(name, findings),
  };
}

export const sagemakerNotebookInsecure = {
  id: 'sagemaker-notebook-insecure',
  title: 'SageMaker notebook instance not private and encrypted',
  severity: 'high',
  rationale:
    'A notebook instance holds data, credentials of its execution role and an interactive shell. With direct internet access, root access for its users, no VPC and no customer managed key, it is the easiest way to take ML data out of an account.',
  family: 'sagemaker',
  triggers: [{ eventSource: 'sagemaker.amazonaws.com', eventNames: ['CreateNotebookInstance', 'UpdateNotebookInstance'] }],
  permissions: [],
  lookups: [notebookTagsLookup],
  docs: {
    changes: 'Nothing, in any mode: notebooks are only ever proposed for change, because stopping one interrupts the people working in it.',
    proposes:
      'StopNotebookInstance (undo: StartNotebookInstance); for root access, waitUntilNotebookInstanceStopped, UpdateNotebookInstance RootAccess Disabled (undo: RootAccess Enabled, as the event set it) and StartNotebookInstance when nothing else is wrong. Direct internet access, a missing subnet and a missing KMS key cannot be changed by UpdateNotebookInstance: the alert says to recreate the notebook privately, as a step for a person.',
    neverTouches: 'The notebook and its ML storage volume: no notebook is ever deleted, and nothing is applied automatically. Notebooks carrying the exemption tag.',
  },
  evaluate,
} as const satisfies Rule;
