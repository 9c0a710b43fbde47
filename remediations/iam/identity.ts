/**
 * The role, user or group a rule acts on, as its lookups saw it: its ARN, and
 * the two reasons a change to it is left alone (the bot's own role, the
 * exemption tag).
 */
import { isBotRole } from '../../engine/decide.js';
import { field, stringField, type CloudTrailEvent } from '../../engine/event.js';
import { exemptionReason, tagsFromFact } from '../../engine/exemption.js';
import type { Fact, Facts, RuleContext } from '../../engine/types.js';
import { accountOf, factValue, readFact, tagsFromEvent } from '../../rulekit/index.js';
import { identityLabel, partitionOf, type Identity } from './common.js';
import { roleLookup, userLookup, type IdentityFact } from './lookups.js';

/** The identity's GetRole or GetUser fact; groups have none. */
function identityFact(identity: Identity, facts: Facts): Fact<IdentityFact | null> | undefined {
  switch (identity.kind) {
    case 'role':
      return readFact(facts, roleLookup);
    case 'user':
      return readFact(facts, userLookup);
    case 'group':
      return undefined;
  }
}

/**
 * The identity's ARN: from the lookup (it carries the path), else from
 * CreateRole's response, else composed with the path the request named (`/`
 * when it named none, which is then a guess).
 */
function identityArn(event: CloudTrailEvent, identity: Identity, facts: Facts): string {
  const fromFact = factValue(identityFact(identity, facts))?.arn;
  if (typeof fromFact === 'string') return fromFact;
  const fromResponse = stringField(event.detail.responseElements, identity.kind, 'arn');
  if (fromResponse !== undefined) return fromResponse;
  const path = stringField(event.detail.requestParameters, 'path') ?? '/';
  return `arn:${partitionOf(event)}:iam::${accountOf(event)}:${identity.kind}${path}${identity.name}`;
}

/**
 * Why the bot refuses to remediate this identity: it is exactly one of the
 * bot's own roles (`BOT_PRINCIPALS`, exact ARNs). A person is alerted instead,
 * because a change to the bot's own role deserves one.
 */
export function botOwnReason(event: CloudTrailEvent, identity: Identity, facts: Facts, context: RuleContext): string | undefined {
  if (identity.kind !== 'role') return undefined;
  const arn = identityArn(event, identity, facts);
  return isBotRole(arn, context.botRoles ?? [])
    ? `${arn} is one of the bot's own roles: the bot never remediates itself, so a person must review this change`
    : undefined;
}

/** Exemption by the identity's tag (roles and users; groups have no tags). */
export function identityExemption(event: CloudTrailEvent, identity: Identity, facts: Facts, context: RuleContext): string | undefined {
  if (identity.kind === 'group') return undefined;
  // The identity's current tags when IAM answered; else the tags a CreateRole or CreateUser request set (offline replay).
  const tags = tagsFromFact(identityFact(identity, facts)) ?? tagsFromEvent(field(event.detail.requestParameters, 'tags'));
  const reason = exemptionReason(tags, context.config);
  return reason ? `${identityLabel(identity)} is ${reason}` : undefined;
}
