/**
 * vpc-flow-logs-deleted: VPC Flow Logs deleted, so the record of the network
 * traffic of a VPC, subnet or network interface stops. `notify` by default.
 *
 * Triggers: `DeleteFlowLogs` (`ec2.amazonaws.com`). CloudTrail records this
 * newer EC2 API wrapped: `requestParameters.DeleteFlowLogsRequest.FlowLogId`,
 * one `{content, tag}` object per id (an object for one id, a list for
 * several), and `responseElements.DeleteFlowLogsResponse.unsuccessful` (`""`
 * when every id was deleted, else `item`s with `resourceId` and `error`).
 * Violation: at least one flow log deleted; ids the response lists as
 * unsuccessful were not deleted and do not count.
 * Changes: nothing, in any mode. A deleted flow log cannot be read back: the
 * event names only its id, not the resource it covered nor its destination,
 * so the alert says where to find them (the `CreateFlowLogs` event that
 * created it) to recreate it.
 * Never touches: the flow logs, their destinations (log groups, buckets,
 * Firehose streams) and the records already delivered there.
 * Exemption: none by tag (the flow log and its tags are gone); the config's
 * `exemptions` list names a flow log by id.
 * Permissions: none.
 */
import type { CloudTrailEvent } from '../../engine/event.js';
import type { Facts, Finding, RuleContext, Verdict } from '../../engine/types.js';
import { accountOf, defineRule, field, partitionOf, text } from '../../rulekit/index.js';

/** CloudTrail's one-or-many: a single object for one element, a list for several. */
function oneOrMany(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  return value === undefined || value === null || value === '' ? [] : [value];
}

/** The ids requested: the `content` of each element of the wrapped request, or plain strings. */
function requestedIds(event: CloudTrailEvent): string[] {
  const params = event.detail.requestParameters;
  // Some exports carry a list in `content`; every element is an id either way.
  const ids = oneOrMany(field(params, 'DeleteFlowLogsRequest', 'FlowLogId')).flatMap((item) => oneOrMany(typeof item === 'string' ? item : field(item, 'content')).map(text));
  return [...new Set(ids.filter((id): id is string => id !== undefined))];
}

interface Failure {
  readonly id: string;
  readonly code?: string;
}

/** The ids the response lists as not deleted, with AWS's error code. */
function unsuccessful(event: CloudTrailEvent): Failure[] {
  const list = field(event.detail.responseElements, 'DeleteFlowLogsResponse', 'unsuccessful');
  const entries = [...oneOrMany(field(list, 'item')), ...oneOrMany(field(list, 'items'))];
  return entries.flatMap((entry) => {
    const id = text(field(entry, 'resourceId'));
    const code = text(field(entry, 'error', 'code'));
    return id ? [{ id, ...(code ? { code } : {}) }] : [];
  });
}

export const FIND_THE_FLOW_LOG =
  'The event names only the flow log id: what it covered and where it delivered are gone with it, and no read can show a deleted flow log. Find the CreateFlowLogs event that created it (CloudTrail event history keeps 90 days; a trail or CloudTrail Lake keeps more), whose response lists the id in flowLogIdSet and whose request names the resources (ResourceIds: VPC, subnet or network interface), TrafficType, the destination (LogDestinationType with LogDestination, or LogGroupName and DeliverLogsPermissionArn), LogFormat and MaxAggregationInterval; then recreate it with CreateFlowLogs and those settings.';

function evaluate(event: CloudTrailEvent, _facts: Facts, _context: RuleContext): Verdict {
  const requested = requestedIds(event);
  if (requested.length === 0) return { kind: 'skipped', reason: 'the event names no flow log' };
  const failed = unsuccessful(event);
  const failedIds = new Set(failed.map((failure) => failure.id));
  const deleted = requested.filter((id) => !failedIds.has(id));
  const region = event.detail.awsRegion || event.region;
  const arn = (id: string) => `arn:${partitionOf(event)}:ec2:${region}:${accountOf(event)}:vpc-flow-log/${id}`;
  if (deleted.length === 0) {
    const reasons = failed.map((failure) => `${failure.id}${failure.code ? ` (${failure.code})` : ''}`).join(', ');
    return { kind: 'compliant', summary: `DeleteFlowLogs deleted no flow log: the response lists every id as unsuccessful: ${reasons}`, resources: requested.map(arn) };
  }
  const findings: Finding[] = deleted.map((id) => ({
    code: 'flow-log-deleted',
    severity: 'high',
    message: `Flow log ${id} was deleted: the traffic it recorded is no longer logged. ${FIND_THE_FLOW_LOG}`,
    subject: id,
  }));
  const notDeleted = failed.length > 0 ? ` (${failed.map((failure) => failure.id).join(', ')} not deleted)` : '';
  return {
    kind: 'violation',
    summary: `${deleted.length === 1 ? 'flow log' : 'flow logs'} ${deleted.join(', ')} deleted${notDeleted}`,
    resources: deleted.map(arn),
    findings,
    plan: [],
  };
}

export const vpcFlowLogsDeleted = defineRule({
  id: 'vpc-flow-logs-deleted',
  title: 'VPC Flow Logs deleted',
  severity: 'high',
  rationale:
    'Flow logs are the record of who talked to what in a VPC: deleting them is how an intruder hides exfiltration and lateral movement (MITRE ATT&CK T1562.008, Disable or Modify Cloud Logs), and the traffic of the gap is never recorded afterwards.',
  defaultMode: 'notify',
  triggers: [{ eventSource: 'ec2.amazonaws.com', eventNames: ['DeleteFlowLogs'] }],
  evaluate,
});
