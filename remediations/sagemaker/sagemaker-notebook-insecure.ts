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
 * Changes: nothing, in any mode. The plan is always empty; `notify` shows the
 * findings only, `propose` (the default) and `remediate` the proposal too.
 * Proposes: `StopNotebookInstance` (undo: `StartNotebookInstance`); for root
 * access, a wait until the notebook has stopped (`waitUntilNotebookInstanceStopped`),
 * `UpdateNotebookInstance {RootAccess: Disabled}` (undo: the value the event
 * set, `Enabled`) and, when nothing else needs fixing, a second wait (the
 * update leaves the notebook `Updating`) and `StartNotebookInstance`. Every
 * write reads `DescribeNotebookInstance` before and after it (`notebookInstanceProbe`).
 * Direct internet access, the subnet and the KMS key can only be fixed by
 * recreating the notebook: the alert describes that as a step for a person.
 * Never touches: the notebook's data; no notebook is ever deleted, and nothing
 * is applied automatically. Notebooks carrying the exemption tag.
 * Permissions: none to write (the bot applies nothing); `sagemaker:ListTags`
 * for the exemption tag of an updated notebook, and
 * `sagemaker:DescribeNotebookInstance` to read the proposal's preconditions.
 * A person running the proposal needs `sagemaker:StopNotebookInstance`,
 * `sagemaker:DescribeNotebookInstance` (the reads and the waits),
 * `sagemaker:UpdateNotebookInstance` and `sagemaker:StartNotebookInstance` on the notebook.
 */
import {
  DescribeNotebookInstanceCommand,
  ListTagsCommand,
  StartNotebookInstanceCommand,
  StopNotebookInstanceCommand,
  UpdateNotebookInstanceCommand,
  waitUntilNotebookInstanceStopped,
} from '@aws-sdk/client-sagemaker';
import type { CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason, tagsFromFact, tagsFromList, type Tags } from '../../engine/exemption.js';
import { checkedBothWays, type Facts, type Finding, type Plan, type PlanStep, type RuleContext, type Verdict } from '../../engine/types.js';
import { sagemaker } from '../../rulekit/aws/sagemaker.js';
import { defineLookup, defineProbe, defineProposedWrite, defineRule, defineWaiter, readFact } from '../../rulekit/index.js';
import { enabledSetting, param, requestTags, responseArn, sagemakerArn, stringParam } from './common.js';

const isCreate = (event: CloudTrailEvent) => event.detail.eventName === 'CreateNotebookInstance';

function notebookName(event: CloudTrailEvent): string | undefined {
  return stringParam(event.detail.requestParameters, 'NotebookInstanceName');
}

function notebookArn(event: CloudTrailEvent, name: string): string {
  return responseArn(event, 'NotebookInstanceArn') ?? sagemakerArn(event, 'notebook-instance', name);
}

/** Only an update that turned root access on needs the notebook's tags: creates carry theirs. */
const notebookTagsLookup = defineLookup(sagemaker, ListTagsCommand, {
  name: 'notebookTags',
  input: (event) => {
    const name = notebookName(event);
    if (isCreate(event) || !name) return undefined;
    return enabledSetting(param(event.detail.requestParameters, 'RootAccess'), 'Disabled').enabled ? { ResourceArn: notebookArn(event, name) } : undefined;
  },
  // `null` for a notebook that no longer exists (`ResourceNotFound`).
  select: (output): { readonly tags: Tags } | null => ({ tags: tagsFromList(param(output, 'Tags')) }),
  // A notebook that no longer exists; any other error leaves the fact unavailable, and the violation is still reported.
  notFoundCodes: ['ResourceNotFound'],
});

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

/** What a step of the proposal needs the notebook to be, as `DescribeNotebookInstance` shows it. */
type NotebookWant =
  /** `StopNotebookInstance`: not running. With `unlessRootDisabled`, root access must still be on, or there is nothing to contain. */
  | 'stopped'
  /** `UpdateNotebookInstance`: root access off. */
  | 'root-disabled'
  /** `StartNotebookInstance`: running again, and only with root access off. */
  | 'running';

const RUNNING = new Set(['InService', 'Pending', 'Updating']);

/**
 * A notebook instance as `DescribeNotebookInstance` answers now, judged for one
 * step of the proposal (`expect.want`, see `NotebookWant`). SageMaker answers a
 * notebook that no longer exists with `ValidationException`, which names no
 * cause: the read then fails and the step is not run, never guessed done.
 */
export const notebookInstanceProbe = defineProbe(sagemaker, DescribeNotebookInstanceCommand, {
  name: 'notebookInstance',
  judge(output, expected) {
    const name = String(expected['notebook']);
    const status = stringParam(output, 'NotebookInstanceStatus');
    const root = stringParam(output, 'RootAccess');
    if (status === undefined) throw new Error(`DescribeNotebookInstance states no NotebookInstanceStatus for ${name}`);
    const rootOff = root?.toLowerCase() === 'disabled';
    const now = `${name} is ${status}, root access ${root ?? 'not stated'}`;
    switch (expected['want']) {
      case 'stopped':
        // Not "done": the wait after the stop would then poll a running notebook until it times out (a wait step
        // always runs), and the start would restart a notebook someone stopped. So a re-run of a finished proposal reads stale too.
        if (expected['unlessRootDisabled'] === true && rootOff) {
          return { state: 'changed', evidence: `${now}: root access is off now, not on as the event set it, so nothing is stopped, updated or started` };
        }
        if (status === 'Stopped' || status === 'Stopping') return { state: 'done', evidence: `${now}: it runs nothing` };
        if (status === 'Failed' || status === 'Deleting') return { state: 'done', evidence: `${now}: it serves nobody` };
        if (RUNNING.has(status)) return { state: 'needed', evidence: `${now}: still running` };
        break;
      case 'root-disabled':
        if (root === undefined) break;
        return rootOff ? { state: 'done', evidence: `${now}: root access is off` } : { state: 'needed', evidence: `${now}: root access is still on` };
      case 'running':
        // Read before anything ran (a proposal's preflight) the notebook still runs: nothing to start yet.
        if (status === 'InService' || status === 'Pending') return { state: 'done', evidence: `${now}: running` };
        if (root === undefined) break;
        if (!rootOff) return { state: 'changed', evidence: `${now}: root access is still on, so it is not started` };
        if (status === 'Deleting') return { state: 'changed', evidence: `${now}: it is being deleted, so it is not started` };
        return { state: 'needed', evidence: `${now}: not running yet` };
    }
    throw new Error(`DescribeNotebookInstance answer for ${name} cannot be judged: status ${status}, root access ${root ?? 'not stated'}`);
  },
});

function notebookCheck(name: string, want: NotebookWant, description: string, extra: Readonly<Record<string, unknown>> = {}) {
  return checkedBothWays(notebookInstanceProbe.check({ NotebookInstanceName: name }, { notebook: name, want, ...extra }, description));
}

const stopNotebook = defineProposedWrite(sagemaker, StopNotebookInstanceCommand);
const startNotebook = defineProposedWrite(sagemaker, StartNotebookInstanceCommand);
const updateNotebook = defineProposedWrite(sagemaker, UpdateNotebookInstanceCommand);
const untilStopped = defineWaiter(sagemaker, 'waitUntilNotebookInstanceStopped', waitUntilNotebookInstanceStopped);

/**
 * The containment a person runs: stop; for root access, update while stopped
 * and, if nothing else is wrong, start again once the update has finished.
 * Each write reads the notebook first (`DescribeNotebookInstance`): a notebook
 * already stopped, or root access already off, is done; when root access is
 * the only finding and it is off again, nothing is stopped at all (stale).
 */
function planProposal(name: string, findings: readonly Finding[]): Plan {
  const byName = { NotebookInstanceName: name };
  const root = findings.some((f) => f.code === 'root-access');
  const recreate = findings.some((f) => f.code !== 'root-access');
  const rootOnly = root && !recreate;
  const stop = stopNotebook.step(byName, {
    reason: `Stop ${name}: a stopped notebook serves nobody and reaches nothing. Its ML storage volume is kept.${recreate ? ` Then, as a person: ${RECREATE_STEP}` : ''}`,
    undo: startNotebook.undo(byName, `Start ${name} again.`),
    ...(rootOnly
      ? notebookCheck(name, 'stopped', `${name} still runs with root access on`, { unlessRootDisabled: true })
      : notebookCheck(name, 'stopped', `${name} still runs`)),
  });
  if (!root) return [stop];
  const waitStopped = (why: string): PlanStep => untilStopped.step(byName, { reason: `Wait until ${name} has stopped: ${why}` });
  const steps: PlanStep[] = [
    stop,
    waitStopped('UpdateNotebookInstance only accepts a stopped notebook.'),
    updateNotebook.step(
      { ...byName, RootAccess: 'Disabled' },
      {
        reason: `Turn root access off for the users of ${name}. (Lifecycle configurations still run as root.)`,
        undo: updateNotebook.undo({ ...byName, RootAccess: 'Enabled' }, 'Turn root access on again, as the event set it.'),
        ...notebookCheck(name, 'root-disabled', `${name} still has root access on`),
      },
    ),
  ];
  if (rootOnly) {
    steps.push(
      waitStopped('the update runs while the notebook is Updating, and StartNotebookInstance only accepts a Stopped one.'),
      startNotebook.step(byName, {
        reason: `Start ${name} again, now without root access (skip this step if it should stay stopped).`,
        undo: stopNotebook.undo(byName, `Stop ${name} again.`),
        ...notebookCheck(name, 'running', `${name} is stopped, with root access off`),
      }),
    );
  }
  return steps;
}

function exemption(event: CloudTrailEvent, facts: Facts, context: RuleContext): { reason?: string; gone?: boolean; unknown?: string } {
  let tags: Tags | undefined;
  if (isCreate(event)) tags = requestTags(event.detail.requestParameters);
  else {
    const fact = readFact(facts, notebookTagsLookup);
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
  if (exempt.reason) return { kind: 'exempt', reason: `${name} is ${exempt.reason}`, resources, findings };

  const recreate = findings.some((f) => f.code !== 'root-access');
  const what = findings.map((f) => LABELS[f.code] ?? f.code).join(', ');
  // A notebook gone since the event is still reported: the proposal's reads say what is there now.
  const note = exempt.gone ? ' (ListTags: the notebook no longer exists)' : exempt.unknown ? ` (exemption tag not checked: ${exempt.unknown})` : '';
  return {
    kind: 'violation',
    summary: `${name} ${isCreate(event) ? 'created' : 'updated'} with ${what}${recreate ? '; proposed: stop it, then recreate it privately' : '; proposed: stop it and turn root access off'}${note}`,
    resources,
    findings,
    plan: [],
    proposal: planProposal(name, findings),
  };
}

export const sagemakerNotebookInsecure = defineRule({
  id: 'sagemaker-notebook-insecure',
  title: 'SageMaker notebook instance not private and encrypted',
  severity: 'high',
  rationale:
    'A notebook instance holds data, credentials of its execution role and an interactive shell. With direct internet access, root access for its users, no VPC and no customer managed key, it is the easiest way to take ML data out of an account.',
  triggers: [{ eventSource: 'sagemaker.amazonaws.com', eventNames: ['CreateNotebookInstance', 'UpdateNotebookInstance'] }],
  lookups: [notebookTagsLookup],
  probes: [notebookInstanceProbe],
  proposals: [stopNotebook, updateNotebook, startNotebook],
  waiters: [untilStopped],
  evaluate,
});

