/**
 * ec2-imdsv1-allowed: an instance that still answers IMDSv1 (tokenless)
 * instance-metadata requests, so a server-side request forgery or an open proxy
 * on it hands out its role's credentials.
 *
 * Triggers: `RunInstances` (`responseElements.instancesSet.items[].metadataOptions`,
 * else the request's `metadataOptions`) and `ModifyInstanceMetadataOptions`
 * (wrapped request `ModifyInstanceMetadataOptionsRequest` with capitalised keys,
 * response `ModifyInstanceMetadataOptionsResponse.instanceMetadataOptions`).
 * The violation is `httpTokens: optional` while the metadata endpoint is not
 * disabled. Records from before IMDSv2 (2019) carry no metadata options: a
 * `DescribeInstances` lookup decides them, and without it the bot says it
 * could not inspect them, never passes them.
 *
 * Changes (`remediate`; `propose` shows the same plan with what its reads find
 * now, `notify` only alerts): `ModifyInstanceMetadataOptions {InstanceId,
 * HttpTokens: required, HttpEndpoint: enabled}`, one step per instance (undo:
 * `HttpTokens: optional`). Before each call `DescribeInstances` reads the
 * instance: `HttpTokens` already `required`, or the instance terminated or
 * gone, is already done (nothing sent, no undo recorded); an endpoint disabled
 * since the event is left disabled and the decision is stale, because EC2
 * accepts `HttpTokens` only together with `HttpEndpoint: enabled`. After the
 * call the same read must show `HttpTokens: required` (while EC2 is still
 * applying it, `MetadataOptions.State` reads `pending`: see `instanceMetadataProbe`).
 * Never touches: the metadata endpoint itself (a disabled endpoint is never
 * enabled), the hop limit, instance tags in IMDS, the instance's state, and
 * instances carrying the exemption tag (`DescribeInstances` tags, else the tags
 * `RunInstances` requested for the instance).
 * Permissions: `ec2:ModifyInstanceMetadataOptions` on instances;
 * `ec2:DescribeInstances` (tags and current metadata options, and the reads
 * before and after each change).
 */
import { DescribeInstancesCommand, ModifyInstanceMetadataOptionsCommand } from '@aws-sdk/client-ec2';
import type { CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason, tagsFromList, type Tags } from '../../engine/exemption.js';
import { checkedBothWays, type Facts, type Finding, type PlanStep, type RuleContext, type Verdict } from '../../engine/types.js';
import { ec2 } from '../../rulekit/aws/ec2.js';
import { defineAction, defineLookup, defineProbe, defineRule, defineUndo, field, items, readFact, requestedTags, stringField, text } from '../../rulekit/index.js';

/** What one instance's metadata options were, as far as the event or a lookup says. */
interface InstanceMetadata {
  readonly instanceId: string;
  /** `optional` (IMDSv1 allowed) or `required` (IMDSv2 only); absent when nobody said. */
  readonly httpTokens?: string;
  /** `enabled` or `disabled`; absent when nobody said. */
  readonly httpEndpoint?: string;
  /** Tags the event requested for the instance (`RunInstances`). */
  readonly requestedTags: Tags;
}

interface DescribedInstance {
  readonly httpTokens?: string;
  readonly httpEndpoint?: string;
  readonly state?: string;
  readonly tags: Tags;
}

/** A wrapped EC2 element (`ModifyInstanceMetadataOptionsRequest`), or the element itself when a record has it unwrapped. */
function unwrap(value: unknown, wrapper: string): unknown {
  const inner = field(value, wrapper);
  return typeof inner === 'object' && inner !== null ? inner : value;
}

function fromRunInstances(event: CloudTrailEvent): InstanceMetadata[] {
  const requested = field(event.detail.requestParameters, 'metadataOptions');
  const tags = requestedTags(event, 'instance');
  return items(field(event.detail.responseElements, 'instancesSet')).flatMap((instance) => {
    const instanceId = text(instance['instanceId']);
    if (!instanceId) return [];
    const options = instance['metadataOptions'];
    const httpTokens = text(field(options, 'httpTokens')) ?? text(field(requested, 'httpTokens'));
    const httpEndpoint = text(field(options, 'httpEndpoint')) ?? text(field(requested, 'httpEndpoint'));
    return [{ instanceId, ...(httpTokens ? { httpTokens } : {}), ...(httpEndpoint ? { httpEndpoint } : {}), requestedTags: tags }];
  });
}

function fromModify(event: CloudTrailEvent): InstanceMetadata[] {
  const request = unwrap(event.detail.requestParameters, 'ModifyInstanceMetadataOptionsRequest');
  const response = unwrap(event.detail.responseElements, 'ModifyInstanceMetadataOptionsResponse');
  const instanceId = text(field(request, 'InstanceId')) ?? text(field(request, 'instanceId')) ?? text(field(response, 'instanceId'));
  if (!instanceId) return [];
  // The response states the instance's options after the call; the request only what it changed.
  const after = field(response, 'instanceMetadataOptions');
  const httpTokens = text(field(after, 'httpTokens')) ?? text(field(request, 'HttpTokens')) ?? text(field(request, 'httpTokens'));
  const httpEndpoint = text(field(after, 'httpEndpoint')) ?? text(field(request, 'HttpEndpoint')) ?? text(field(request, 'httpEndpoint'));
  return [{ instanceId, ...(httpTokens ? { httpTokens } : {}), ...(httpEndpoint ? { httpEndpoint } : {}), requestedTags: {} }];
}

/** Every instance the event launched or modified, with its metadata options as the event states them. */
function instancesOf(event: CloudTrailEvent): InstanceMetadata[] {
  return event.detail.eventName === 'RunInstances' ? fromRunInstances(event) : fromModify(event);
}

/** The instances of a `DescribeInstances` answer, whatever reservation holds them. */
function describedInstances(output: unknown): unknown[] {
  const reservations = field(output, 'Reservations');
  return (Array.isArray(reservations) ? reservations : []).flatMap((reservation) => {
    const instances = field(reservation, 'Instances');
    return Array.isArray(instances) ? instances : [];
  });
}

const GONE_STATES = new Set(['shutting-down', 'terminated']);

/**
 * One instance's metadata options as `DescribeInstances` answers now:
 * - gone (not found, shutting down, terminated) or `HttpTokens: required` → done;
 * - `HttpTokens: optional` with the endpoint enabled → needed;
 * - the endpoint disabled since the event → changed: the fix must send
 *   `HttpEndpoint: enabled` (EC2 takes `HttpTokens` only with it), which would
 *   turn a disabled endpoint back on.
 *
 * EC2 applies metadata options asynchronously: right after the change,
 * `MetadataOptions.State` reads `pending` while `HttpTokens` already reads
 * `required` ("the metadata options are being updated and the instance is not
 * ready to process metadata traffic with the new selection", EC2 API
 * reference, `InstanceMetadataOptionsResponse`; `applied` once done; on a
 * stopped instance, when it starts). The probe counts `required` as done in
 * either state, because `required` is what EC2 has accepted and is applying,
 * and says `pending` in its evidence: the read right after the call would
 * otherwise leave nearly every fix unverified.
 */
export const instanceMetadataProbe = defineProbe(ec2, DescribeInstancesCommand, {
  name: 'instanceMetadata',
  notFoundCodes: ['InvalidInstanceID.NotFound'],
  judge(output, expected) {
    const id = String(expected['instanceId']);
    const instance = output === null ? undefined : describedInstances(output).find((candidate) => field(candidate, 'InstanceId') === id);
    if (instance === undefined) return { state: 'done', evidence: `${id} no longer exists` };
    const state = stringField(instance, 'State', 'Name');
    if (state !== undefined && GONE_STATES.has(state)) return { state: 'done', evidence: `${id} is ${state}: it serves no instance metadata` };
    const tokens = stringField(instance, 'MetadataOptions', 'HttpTokens');
    const endpoint = stringField(instance, 'MetadataOptions', 'HttpEndpoint');
    const applying = stringField(instance, 'MetadataOptions', 'State') === 'pending' ? '; State pending: EC2 is still applying it' : '';
    if (tokens === 'required') return { state: 'done', evidence: `${id} requires IMDSv2 (HttpTokens required${applying})` };
    if (endpoint === 'disabled') {
      return {
        state: 'changed',
        evidence: `${id} now has its metadata endpoint disabled (HttpTokens ${tokens ?? 'not stated'}), not enabled as the event left it: nothing changed, because requiring IMDSv2 means sending HttpEndpoint enabled, which would turn the endpoint back on`,
      };
    }
    if (tokens === 'optional') return { state: 'needed', evidence: `${id} still answers IMDSv1 (HttpTokens optional, metadata endpoint ${endpoint ?? 'enabled'}${applying})` };
    throw new Error(`DescribeInstances states no HttpTokens for ${id}`);
  },
});

const requireTokens = defineAction(ec2, ModifyInstanceMetadataOptionsCommand);
const allowTokenless = defineUndo(ec2, ModifyInstanceMetadataOptionsCommand);

/**
 * Requires IMDSv2 on one instance. Before the call, `DescribeInstances` must
 * show it still allowing IMDSv1; after it, `HttpTokens: required`.
 */
export function planRequireTokens(instanceId: string): PlanStep {
  // EC2 rejects HttpTokens unless the same request says HttpEndpoint=enabled (InvalidParameterValue).
  return requireTokens.step(
    { InstanceId: instanceId, HttpTokens: 'required', HttpEndpoint: 'enabled' },
    {
      reason: `Require IMDSv2 session tokens on ${instanceId}, so its role credentials are no longer served to tokenless (IMDSv1) requests. Software that only speaks IMDSv1 (old SDKs and agents) loses metadata access until it is updated.`,
      undo: allowTokenless.undo({ InstanceId: instanceId, HttpTokens: 'optional', HttpEndpoint: 'enabled' }, `Allow IMDSv1 on ${instanceId} again.`),
      // The instance was terminated between the read and the call; the read afterwards confirms it.
      alreadyDoneCodes: ['InvalidInstanceID.NotFound'],
      ...checkedBothWays(
        instanceMetadataProbe.check({ InstanceIds: [instanceId] }, { instanceId }, `${instanceId} still allows IMDSv1 (HttpTokens optional, metadata endpoint enabled)`),
      ),
    },
  );
}

/** What `DescribeInstances` shows now of each instance it found, by id; `null` when none of them exists any more. */
type DescribedInstances = Readonly<Record<string, DescribedInstance>> | null;

const instancesLookup = defineLookup(ec2, DescribeInstancesCommand, {
  name: 'instances',
  input: (event) => {
    const ids = instancesOf(event)
      .filter((instance) => instance.httpTokens !== 'required' && instance.httpEndpoint !== 'disabled')
      .map((instance) => instance.instanceId);
    return ids.length > 0 ? { InstanceIds: [...new Set(ids)] } : undefined;
  },
  select: (output): DescribedInstances => {
    const described: Record<string, DescribedInstance> = {};
    for (const instance of describedInstances(output)) {
      const id = stringField(instance, 'InstanceId');
      if (!id) continue;
      const httpTokens = text(stringField(instance, 'MetadataOptions', 'HttpTokens'));
      const httpEndpoint = text(stringField(instance, 'MetadataOptions', 'HttpEndpoint'));
      const state = text(stringField(instance, 'State', 'Name'));
      described[id] = {
        ...(httpTokens ? { httpTokens } : {}),
        ...(httpEndpoint ? { httpEndpoint } : {}),
        ...(state ? { state } : {}),
        tags: tagsFromList(field(instance, 'Tags')),
      };
    }
    return described;
  },
  notFoundCodes: ['InvalidInstanceID.NotFound'],
});

type Judged =
  | { readonly kind: 'offending'; readonly instanceId: string; readonly present?: string }
  | { readonly kind: 'fine'; readonly instanceId: string; readonly why: string }
  | { readonly kind: 'unknown'; readonly instanceId: string }
  | { readonly kind: 'exempt'; readonly instanceId: string; readonly reason: string };

/** One instance as the lookup found it: `null` when it no longer exists, `undefined` when the lookup did not answer. */
function describedOf(facts: Facts, instanceId: string): DescribedInstance | null | undefined {
  const fact = readFact(facts, instancesLookup);
  if (fact?.status !== 'ok') return undefined;
  return fact.value?.[instanceId] ?? null;
}

/** What the lookup shows now of an instance the event left allowing IMDSv1, for the alert; the plan's precondition reads it again before acting. */
function presentNote(instanceId: string, now: DescribedInstance | null | undefined): string | undefined {
  if (now === null) return `${instanceId} no longer exists`;
  if (now?.state !== undefined && GONE_STATES.has(now.state)) return `${instanceId} is ${now.state} now`;
  if (now?.httpTokens === 'required') return `${instanceId} requires IMDSv2 now`;
  if (now?.httpEndpoint === 'disabled') return `${instanceId} has its metadata endpoint disabled now`;
  return undefined;
}

function judge(instance: InstanceMetadata, facts: Facts, context: RuleContext): Judged {
  const { instanceId } = instance;
  const now = describedOf(facts, instanceId);
  if (instance.httpEndpoint === 'disabled') return { kind: 'fine', instanceId, why: 'the metadata endpoint is disabled' };
  if (instance.httpTokens === 'required') return { kind: 'fine', instanceId, why: 'IMDSv2 is required' };
  const gone = now === null || (now?.state !== undefined && GONE_STATES.has(now.state));
  // Records from before IMDSv2 carry no metadata options: only the lookup of an instance that still runs can tell.
  const httpTokens = instance.httpTokens ?? (gone ? undefined : now?.httpTokens);
  const httpEndpoint = instance.httpEndpoint ?? (gone ? undefined : now?.httpEndpoint);
  if (httpTokens === undefined || httpEndpoint === undefined) {
    return gone ? { kind: 'fine', instanceId, why: 'it no longer exists, so it serves no metadata (the event does not state its metadata options)' } : { kind: 'unknown', instanceId };
  }
  // Only the lookup can say so here (the event stated neither): nothing to judge the event by.
  if (httpEndpoint === 'disabled') return { kind: 'fine', instanceId, why: 'the metadata endpoint is disabled now' };
  if (httpTokens !== 'optional') return { kind: 'fine', instanceId, why: `HttpTokens is ${httpTokens}` };
  const exempt = exemptionReason(now ? now.tags : instance.requestedTags, context.config);
  if (exempt) return { kind: 'exempt', instanceId, reason: exempt };
  const present = presentNote(instanceId, now);
  return { kind: 'offending', instanceId, ...(present ? { present } : {}) };
}

function imdsFinding(instanceId: string): Finding {
  return {
    code: 'imdsv1-allowed',
    severity: 'high',
    message: `${instanceId} answers tokenless IMDSv1 requests (HttpTokens optional): a server-side request forgery on it can read its role credentials.`,
    subject: instanceId,
  };
}

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict {
  const instances = instancesOf(event);
  if (instances.length === 0) return { kind: 'skipped', reason: 'the event names no instance' };
  const resources = instances.map((i) => i.instanceId);
  const judged = instances.map((instance) => judge(instance, facts, context));
  const offending = judged.filter((j) => j.kind === 'offending');
  const exempt = judged.filter((j) => j.kind === 'exempt');
  const unknown = judged.filter((j) => j.kind === 'unknown');
  const notes = [
    ...offending.flatMap((j) => (j.present ? [j.present] : [])),
    ...exempt.map((j) => `${j.instanceId} is exempt (${j.reason})`),
    ...unknown.map((j) => `${j.instanceId}: metadata options not in the event and DescribeInstances unavailable`),
  ];
  const note = notes.length > 0 ? `; ${notes.join('; ')}` : '';

  if (offending.length === 0) {
    if (exempt.length > 0 && unknown.length === 0) {
      return { kind: 'exempt', reason: notes.join('; '), resources, findings: exempt.map((j) => imdsFinding(j.instanceId)) };
    }
    if (unknown.length > 0) {
      const fact = readFact(facts, instancesLookup);
      const why = fact?.status === 'unavailable' ? ` (${fact.reason})` : '';
      return {
        kind: 'skipped',
        reason: `the metadata options of ${unknown.map((j) => j.instanceId).join(', ')} are not in the event and DescribeInstances is unavailable${why}; IMDSv1 is neither assumed nor ruled out`,
        resources,
      };
    }
    const fine = judged.filter((j) => j.kind === 'fine');
    const reasons = [...new Set(fine.map((j) => j.why))].join('; ');
    return { kind: 'compliant', summary: `${fine.map((j) => j.instanceId).join(', ')}: ${reasons}${note}`, resources };
  }

  const ids = offending.map((j) => j.instanceId);
  const verb = event.detail.eventName === 'RunInstances' ? 'launched' : 'set';
  return {
    kind: 'violation',
    summary: `${ids.join(', ')} ${verb} with IMDSv1 allowed (HttpTokens optional)${note}`,
    resources: ids,
    findings: ids.map(imdsFinding),
    // Even where the lookup shows the instance fixed or gone: the step's own read decides, at run time, and says so.
    plan: ids.map((id) => planRequireTokens(id)),
  };
}

export const ec2Imdsv1Allowed = defineRule({
  id: 'ec2-imdsv1-allowed',
  title: 'EC2 instance allows IMDSv1 (IMDSv2 not required)',
  severity: 'high',
  rationale:
    'With IMDSv1 any request that reaches 169.254.169.254 from the instance, such as a server-side request forgery in a notebook or web app, returns the role credentials; IMDSv2 session tokens stop that class of attack.',
  triggers: [{ eventSource: 'ec2.amazonaws.com', eventNames: ['ModifyInstanceMetadataOptions', 'RunInstances'] }],
  actions: [requireTokens],
  lookups: [instancesLookup],
  probes: [instanceMetadataProbe],
  evaluate,
});
