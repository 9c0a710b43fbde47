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
 * `DescribeInstances` lookup decides them, and without it they are skipped,
 * never passed.
 *
 * Changes: `ModifyInstanceMetadataOptions {InstanceId, HttpTokens: required,
 * HttpEndpoint: enabled}`, one step per instance (undo: `HttpTokens: optional`).
 * EC2 accepts `HttpTokens` only together with `HttpEndpoint: enabled`, so the
 * rule acts only on instances whose endpoint is known to be enabled (event or
 * lookup). The call is idempotent; an instance that is gone counts as done.
 * Never touches: the metadata endpoint itself (a disabled endpoint is never
 * enabled), the hop limit, instance tags in IMDS, the instance's state, and
 * instances carrying the exemption tag (`DescribeInstances` tags, else the tags
 * `RunInstances` requested for the instance).
 * Permissions: `ec2:ModifyInstanceMetadataOptions` on instances; lookup
 * `ec2:DescribeInstances` (tags and current metadata options).
 */
import { field, items, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason, tagsFromList, type Tags } from '../../engine/exemption.js';
import type { Fact, Facts, Finding, Lookup, PlanStep, Rule, RuleContext, Verdict } from '../../engine/types.js';

/** What one instance's metadata options were, as far as the event or a lookup says. */
export interface InstanceMetadata {
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

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** `[{key, value}]` or `{items: [...]}`, CloudTrail's lower-case tag lists. */
function tagsFromEvent(list: unknown): Tags {
  const entries = Array.isArray(list) ? list : field(list, 'items');
  if (!Array.isArray(entries)) return {};
  return tagsFromList(entries.map((tag) => ({ Key: field(tag, 'key') ?? field(tag, 'Key'), Value: field(tag, 'value') ?? field(tag, 'Value') })));
}

function requestedInstanceTags(event: CloudTrailEvent): Tags {
  const specs = items(field(event.detail.requestParameters, 'tagSpecificationSet')).filter((spec) => spec['resourceType'] === 'instance');
  return Object.assign({}, ...specs.map((spec) => tagsFromEvent(spec['tags']))) as Tags;
}

/** A wrapped EC2 element (`ModifyInstanceMetadataOptionsRequest`), or the element itself when a record has it unwrapped. */
function unwrap(value: unknown, wrapper: string): unknown {
  const inner = field(value, wrapper);
  return typeof inner === 'object' && inner !== null ? inner : value;
}

function fromRunInstances(event: CloudTrailEvent): InstanceMetadata[] {
  const requested = field(event.detail.requestParameters, 'metadataOptions');
  const requestedTags = requestedInstanceTags(event);
  return items(field(event.detail.responseElements, 'instancesSet')).flatMap((instance) => {
    const instanceId = text(instance['instanceId']);
    if (!instanceId) return [];
    const options = instance['metadataOptions'];
    const httpTokens = text(field(options, 'httpTokens')) ?? text(field(requested, 'httpTokens'));
    const httpEndpoint = text(field(options, 'httpEndpoint')) ?? text(field(requested, 'httpEndpoint'));
    return [{ instanceId, ...(httpTokens ? { httpTokens } : {}), ...(httpEndpoint ? { httpEndpoint } : {}), requestedTags }];
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
export function instancesOf(event: CloudTrailEvent): InstanceMetadata[] {
  return event.detail.eventName === 'RunInstances' ? fromRunInstances(event) : fromModify(event);
}

export function planRequireTokens(instanceId: string, alreadyDone?: string): PlanStep {
  return {
    service: 'ec2',
    operation: 'ModifyInstanceMetadataOptions',
    // EC2 rejects HttpTokens unless the same request says HttpEndpoint=enabled (InvalidParameterValue).
    input: { InstanceId: instanceId, HttpTokens: 'required', HttpEndpoint: 'enabled' },
    reason: `Require IMDSv2 session tokens on ${instanceId}, so its role credentials are no longer served to tokenless (IMDSv1) requests. Software that only speaks IMDSv1 (old SDKs and agents) loses metadata access until it is updated.`,
    undo: {
      service: 'ec2',
      operation: 'ModifyInstanceMetadataOptions',
      input: { InstanceId: instanceId, HttpTokens: 'optional', HttpEndpoint: 'enabled' },
      reason: `Allow IMDSv1 on ${instanceId} again.`,
    },
    alreadyDoneCodes: ['InvalidInstanceID.NotFound'],
    ...(alreadyDone !== undefined ? { alreadyDone } : {}),
  };
}

const instancesLookup: Lookup = {
  name: 'instances',
  service: 'ec2',
  operation: 'DescribeInstances',
  permission: 'ec2:DescribeInstances',
  input: (event) => {
    const ids = instancesOf(event)
      .filter((instance) => instance.httpTokens !== 'required' && instance.httpEndpoint !== 'disabled')
      .map((instance) => instance.instanceId);
    return ids.length > 0 ? { InstanceIds: [...new Set(ids)] } : undefined;
  },
  select: (output) => {
    const described: Record<string, DescribedInstance> = {};
    const reservations = field(output, 'Reservations');
    for (const reservation of Array.isArray(reservations) ? reservations : []) {
      const instances = field(reservation, 'Instances');
      for (const instance of Array.isArray(instances) ? instances : []) {
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
    }
    return described;
  },
  notFoundCodes: ['InvalidInstanceID.NotFound'],
};

const GONE_STATES = new Set(['shutting-down', 'terminated']);

type Judged =
  | { readonly kind: 'offending'; readonly instance: InstanceMetadata; readonly now?: DescribedInstance }
  | { readonly kind: 'fine'; readonly instanceId: string; readonly why: string }
  | { readonly kind: 'gone'; readonly instanceId: string }
  | { readonly kind: 'unknown'; readonly instanceId: string }
  | { readonly kind: 'exempt'; readonly instanceId: string; readonly reason: string };

function describedOf(fact: Fact | undefined, instanceId: string): DescribedInstance | null | undefined {
  if (fact?.status !== 'ok') return undefined;
  if (fact.value === null) return null;
  const entry = (fact.value as Record<string, DescribedInstance>)[instanceId];
  return entry ?? null;
}

function judge(instance: InstanceMetadata, facts: Facts, context: RuleContext): Judged {
  const { instanceId } = instance;
  const now = describedOf(facts['instances'], instanceId);
  if (instance.httpEndpoint === 'disabled') return { kind: 'fine', instanceId, why: 'the metadata endpoint is disabled' };
  if (instance.httpTokens === 'required') return { kind: 'fine', instanceId, why: 'IMDSv2 is required' };
  if (now === null || (now?.state !== undefined && GONE_STATES.has(now.state))) return { kind: 'gone', instanceId };
  // The fix must send HttpEndpoint=enabled: an endpoint disabled since the event stays disabled.
  if (now?.httpEndpoint === 'disabled') return { kind: 'fine', instanceId, why: 'the metadata endpoint is disabled now' };
  // Records from before IMDSv2 carry no metadata options: only the lookup can tell.
  const httpTokens = instance.httpTokens ?? now?.httpTokens;
  const httpEndpoint = instance.httpEndpoint ?? now?.httpEndpoint;
  if (httpTokens === undefined || httpEndpoint === undefined) return { kind: 'unknown', instanceId };
  if (httpTokens !== 'optional') return { kind: 'fine', instanceId, why: `HttpTokens is ${httpTokens}` };
  const exempt = exemptionReason(now ? now.tags : instance.requestedTags, context.config);
  if (exempt) return { kind: 'exempt', instanceId, reason: exempt };
  return { kind: 'offending', instance: { ...instance, httpTokens }, ...(now ? { now } : {}) };
}

function evaluate(event: CloudTrailEvent, facts: Facts, context: RuleContext): Verdict {
  const instances = instancesOf(event);
  if (instances.length === 0) return { kind: 'skipped', reason: 'the event names no instance' };
  const resources = instances.map((i) => i.instanceId);
  const judged = instances.map((instance) => judge(instance, facts, context));
  const offending = judged.filter((j) => j.kind === 'offending');
  const exempt = judged.filter((j) => j.kind === 'exempt');
  const unknown = judged.filter((j) => j.kind === 'unknown');
  const gone = judged.filter((j) => j.kind === 'gone');
  const notes = [
    ...exempt.map((j) => `${j.instanceId} is exempt (${j.reason})`),
    ...unknown.map((j) => `${j.instanceId}: metadata options not in the event and DescribeInstances unavailable`),
    ...gone.map((j) => `${j.instanceId} no longer exists`),
  ];
  const note = notes.length > 0 ? `; ${notes.join('; ')}` : '';

  if (offending.length === 0) {
    if (exempt.length > 0 && unknown.length === 0) return { kind: 'exempt', reason: notes.join('; '), resources };
    if (unknown.length > 0) {
      const why = facts['instances']?.status === 'unavailable' ? ` (${facts['instances'].reason})` : '';
      return {
        kind: 'skipped',
        reason: `the metadata options of ${unknown.map((j) => j.instanceId).join(', ')} are not in the event and DescribeInstances is unavailable${why}; IMDSv1 is neither assumed nor ruled out`,
        resources,
      };
    }
    if (gone.length === judged.length) return { kind: 'skipped', reason: `${gone.map((j) => j.instanceId).join(', ')} no longer exist${gone.length === 1 ? 's' : ''}`, resources };
    const fine = judged.filter((j) => j.kind === 'fine');
    const reasons = [...new Set(fine.map((j) => j.why))].join('; ');
    return { kind: 'compliant', summary: `${fine.map((j) => j.instanceId).join(', ')}: ${reasons}${note}`, resources };
  }

  const findings: Finding[] = offending.map(({ instance }) => ({
    code: 'imdsv1-allowed',
    severity: 'high',
    message: `${instance.instanceId} answers tokenless IMDSv1 requests (HttpTokens optional): a server-side request forgery on it can read its role credentials.`,
    subject: instance.instanceId,
  }));
  const plan = offending.map(({ instance, now }) =>
    planRequireTokens(instance.instanceId, now?.httpTokens === 'required' ? 'DescribeInstances says HttpTokens is already required' : undefined),
  );
  const ids = offending.map(({ instance }) => instance.instanceId);
  const verb = event.detail.eventName === 'RunInstances' ? 'launched' : 'set';
  return {
    kind: 'violation',
    summary: `${ids.join(', ')} ${verb} with IMDSv1 allowed (HttpTokens optional)${note}`,
    resources: ids,
    findings,
    plan,
  };
}

export const ec2Imdsv1Allowed = {
  id: 'ec2-imdsv1-allowed',
  title: 'EC2 instance allows IMDSv1 (IMDSv2 not required)',
  severity: 'high',
  rationale:
    'With IMDSv1 any request that reaches 169.254.169.254 from the instance, such as a server-side request forgery in a notebook or web app, returns the role credentials; IMDSv2 session tokens stop that class of attack.',
  family: 'instances',
  triggers: [{ eventSource: 'ec2.amazonaws.com', eventNames: ['ModifyInstanceMetadataOptions', 'RunInstances'] }],
  permissions: [
    { action: 'ec2:ModifyInstanceMetadataOptions', resource: 'arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:instance/*' },
  ],
  lookups: [instancesLookup],
  docs: {
    changes:
      'Sets HttpTokens to required on each instance the event launched or set with HttpTokens optional (ModifyInstanceMetadataOptions {InstanceId, HttpTokens: required, HttpEndpoint: enabled}, one call per instance; EC2 takes HttpTokens only beside HttpEndpoint enabled, and only instances whose endpoint is known to be enabled are touched); the undo sets HttpTokens back to optional.',
    neverTouches:
      'The metadata endpoint (a disabled endpoint is never enabled), the hop limit, instance metadata tags, the instance state, instances already requiring IMDSv2, and instances carrying the exemption tag.',
  },
  evaluate,
} as const satisfies Rule;
