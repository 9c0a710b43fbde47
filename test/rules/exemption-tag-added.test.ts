/**
 * exemption-tag-added: adding the exemption tag is itself an alert, naming the
 * resources, who set it and its value, for every tagging call the bot's rules
 * read tags from.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.js';
import { decide, offlineFacts } from '../../engine/decide.js';
import type { CloudTrailEvent } from '../../engine/event.js';
import { patternForRule, ruleMatches } from '../../engine/patterns.js';
import type { Verdict } from '../../engine/types.js';
import { taggingRequest } from '../../remediations/exemptions/exemption-tag-added.js';
import { exemptionRules } from '../../remediations/exemptions/index.js';
import { allFixtureNames, loadEvent } from '../helpers/fixtures.js';
import { registeredRule } from '../helpers/registered.js';
import { evaluateRule } from '../helpers/rule-harness.js';

const exemptionTagAdded = registeredRule('exemption-tag-added');

const NOW = new Date('2025-03-13T15:00:00Z');
const ACCOUNT = '111122223333';
const ALICE = `arn:aws:iam::${ACCOUNT}:user/alice`;
const CONSEQUENCE =
  'From now on every rule of the bot leaves it alone and only reports it exempt. Confirm the exemption was agreed, and that the reason holds; otherwise remove the tag.';

/** The rule on `event`, with `raw` as the config file's content. */
function evaluate(event: CloudTrailEvent, raw: Record<string, unknown> = {}): Verdict {
  return evaluateRule(exemptionTagAdded, event, { config: raw, now: NOW });
}

describe('exemption-tag-added', () => {
  describe('pattern', () => {
    it("listens to the tagging call of every service the bot's rules read tags from", () => {
      expect(patternForRule(exemptionTagAdded)).toStrictEqual({
        source: ['aws.cloudtrail', 'aws.ec2', 'aws.iam', 'aws.kms', 'aws.s3', 'aws.sagemaker'],
        'detail-type': ['AWS API Call via CloudTrail'],
        detail: {
          $or: [
            { eventSource: ['ec2.amazonaws.com'], eventName: ['CreateTags'] },
            { eventSource: ['iam.amazonaws.com'], eventName: ['TagInstanceProfile', 'TagPolicy', 'TagRole', 'TagUser'] },
            { eventSource: ['s3.amazonaws.com'], eventName: ['PutBucketTagging'] },
            { eventSource: ['kms.amazonaws.com'], eventName: ['TagResource'] },
            { eventSource: ['sagemaker.amazonaws.com'], eventName: ['AddTags'] },
            { eventSource: ['cloudtrail.amazonaws.com'], eventName: ['AddTags'] },
          ],
        },
      });
      expect(ruleMatches(exemptionTagAdded, loadEvent('cloudtrail/AddTags-exemption-tag-trail.json'))).toBe(true);
      expect(ruleMatches(exemptionTagAdded, loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'))).toBe(false);
    });

    it('matches exactly the recorded tagging events, with a violating and a compliant one, until the registry checks it', async () => {
      const tagging = new Set(exemptionTagAdded.triggers.flatMap((t) => t.eventNames.map((name) => `${t.eventSource} ${name}`)));
      const config = parseConfig({}, exemptionRules);
      const kinds = new Set<string>();
      for (const name of allFixtureNames()) {
        const event = loadEvent(name);
        const isTagging = tagging.has(`${event.detail.eventSource} ${event.detail.eventName}`);
        expect(ruleMatches(exemptionTagAdded, event), name).toBe(isTagging);
        if (isTagging) kinds.add((await decide(event, exemptionTagAdded, { config, env: {}, facts: offlineFacts, now: NOW })).verdict.kind);
      }
      expect([...kinds].sort()).toStrictEqual(['compliant', 'skipped', 'violation']);
    });
  });

  describe('reading each service’s request shape', () => {
    it.each([
      ['ec2/CreateTags-exemption-tag-on-security-group.json', ['sg-0123456789abcdef0'], ['owner', 'remediation:exempt'], false],
      ['ec2/CreateTags-name-tag-two-resources-compliant.json', ['vol-049df61146c4d7901', 'snap-1234567890abcdef0'], ['Name'], false],
      ['iam/TagRole-exemption-tag.json', ['role ci-deployer'], ['remediation:exempt'], false],
      ['iam/TagInstanceProfile-exemption-tag.json', ['instance profile ml-notebook-admin'], ['remediation:exempt'], false],
      ['iam/TagUser-cost-center-compliant.json', ['user carol'], ['cost-center', 'team'], false],
      ['iam/TagPolicy-exemption-tag-empty-value.json', [`arn:aws:iam::${ACCOUNT}:policy/DataScienceFullAccess`], ['remediation:exempt'], false],
      ['s3/PutBucketTagging-exemption-tag-in-tag-set.json', ['ml-training-data-111122223333'], ['team', 'remediation:exempt'], true],
      ['s3/PutBucketTagging-single-tag-compliant.json', ['amzn-s3-demo-bucket'], ['cost-center'], true],
      ['kms/TagResource-exemption-tag.json', [`arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`], ['remediation:exempt'], false],
      ['sagemaker/AddTags-exemption-tag-notebook-instance.json', [`arn:aws:sagemaker:us-east-1:${ACCOUNT}:notebook-instance/public-demo`], ['remediation:exempt'], false],
      ['cloudtrail/AddTags-exemption-tag-trail.json', [`arn:aws:cloudtrail:us-east-1:${ACCOUNT}:trail/org-audit`], ['remediation:exempt'], false],
    ])('%s', (fixture, resources, keys, replacesTagSet) => {
      const request = taggingRequest(loadEvent(fixture));
      expect([request.resources, request.tags?.map((tag) => tag.key), request.replacesTagSet]).toStrictEqual([resources, keys, replacesTagSet]);
    });
  });

  describe('evaluate', () => {
    it('flags the exemption tag on a security group, naming the resource, who set it and the reason', () => {
      expect(evaluate(loadEvent('ec2/CreateTags-exemption-tag-on-security-group.json'))).toStrictEqual({
        kind: 'violation',
        summary: `${ALICE} set the exemption tag remediation:exempt = "vendor VPN concentrator, agreed until 2025-06-30 (CHG-4821)" on sg-0123456789abcdef0`,
        resources: ['sg-0123456789abcdef0'],
        findings: [
          {
            code: 'exemption-tag-added',
            severity: 'medium',
            message: `${ALICE} tagged sg-0123456789abcdef0 remediation:exempt = "vendor VPN concentrator, agreed until 2025-06-30 (CHG-4821)" with CreateTags (ec2). ${CONSEQUENCE}`,
            subject: 'sg-0123456789abcdef0',
          },
        ],
        plan: [],
      });
    });

    it('says a bucket tag set may have carried the key before: PutBucketTagging replaces the whole set', () => {
      const verdict = evaluate(loadEvent('s3/PutBucketTagging-exemption-tag-in-tag-set.json'));
      expect(verdict.kind === 'violation' && verdict.findings).toStrictEqual([
        {
          code: 'exemption-tag-added',
          severity: 'medium',
          message: `${ALICE} replaced the tag set of ml-training-data-111122223333 with one that carries remediation:exempt = "public sample data set, see DATA-77" (the key may have been there before) with PutBucketTagging (s3). ${CONSEQUENCE}`,
          subject: 'ml-training-data-111122223333',
        },
      ]);
    });

    it('says so when the exemption gives no reason', () => {
      const verdict = evaluate(loadEvent('iam/TagPolicy-exemption-tag-empty-value.json'));
      expect(verdict.kind === 'violation' && verdict.summary).toBe(
        `arn:aws:sts::${ACCOUNT}:assumed-role/Admin/dana set the exemption tag remediation:exempt = an empty value (no reason given) on arn:aws:iam::${ACCOUNT}:policy/DataScienceFullAccess`,
      );
    });

    it.each([
      'iam/TagRole-exemption-tag.json',
      'kms/TagResource-exemption-tag.json',
      'sagemaker/AddTags-exemption-tag-notebook-instance.json',
      'cloudtrail/AddTags-exemption-tag-trail.json',
    ])('flags %s at medium severity, with an empty plan', (fixture) => {
      const verdict = evaluate(loadEvent(fixture));
      expect(verdict.kind === 'violation' && [verdict.plan, verdict.findings.map((f) => [f.code, f.severity])]).toStrictEqual([[], [['exemption-tag-added', 'medium']]]);
    });

    it.each([
      ['ec2/CreateTags-name-tag-two-resources-compliant.json', `${ALICE} tagged vol-049df61146c4d7901, snap-1234567890abcdef0 with Name; none is the exemption tag remediation:exempt`],
      ['iam/TagUser-cost-center-compliant.json', `${ALICE} tagged user carol with cost-center, team; none is the exemption tag remediation:exempt`],
      ['s3/PutBucketTagging-single-tag-compliant.json', `${ALICE} tagged amzn-s3-demo-bucket with cost-center; none is the exemption tag remediation:exempt`],
    ])('passes %s', (fixture, summary) => {
      expect(evaluate(loadEvent(fixture))).toMatchObject({ kind: 'compliant', summary });
    });

    it('follows the configured exemptionTagKey, exactly as exemptions match it', () => {
      const event = loadEvent('ec2/CreateTags-exemption-tag-on-security-group.json');
      expect(evaluate(event, { exemptionTagKey: 'secops:allow' }).kind).toBe('compliant');
      expect(evaluate(event, { exemptionTagKey: 'owner' })).toMatchObject({ kind: 'violation', summary: `${ALICE} set the exemption tag owner = "network-team" on sg-0123456789abcdef0` });
      expect(evaluate(event, { exemptionTagKey: 'Remediation:Exempt' }).kind).toBe('compliant');
    });

    it('names at most 20 resources one by one, and the rest in one finding', () => {
      const event = loadEvent('ec2/CreateTags-exemption-tag-on-security-group.json');
      const ids = Array.from({ length: 23 }, (_, i) => `vol-${String(i).padStart(17, '0')}`);
      event.detail.requestParameters = { ...event.detail.requestParameters, resourcesSet: { items: ids.map((resourceId) => ({ resourceId })) } };
      const verdict = evaluate(event);
      expect(verdict.kind === 'violation' && verdict.resources).toStrictEqual(ids);
      expect(verdict.kind === 'violation' && verdict.findings.map((f) => f.subject)).toStrictEqual([...ids.slice(0, 20), '3 more resources']);
      expect(verdict.kind === 'violation' && verdict.findings.at(-1)?.message).toContain(`tagged 3 more resources (${ids.slice(20).join(', ')}) remediation:exempt`);
    });

    it('says it could not inspect a record whose tags are hidden or absent', () => {
      const event = loadEvent('kms/TagResource-exemption-tag.json');
      event.detail.requestParameters = { ...event.detail.requestParameters, tags: 'HIDDEN_DUE_TO_SECURITY_REASONS' };
      expect(evaluate(event)).toStrictEqual({
        kind: 'skipped',
        reason: `the TagResource record does not show its tags, so whether arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab got the exemption tag remediation:exempt cannot be told`,
        resources: [`arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`],
      });
      const bare = loadEvent('ec2/CreateTags-exemption-tag-on-security-group.json');
      bare.detail.requestParameters = { tagSet: { items: [{ key: 'remediation:exempt', value: 'x' }] } };
      expect(evaluate(bare).kind).toBe('skipped');
    });

    it('leaves a failed CreateTags to the engine', async () => {
      const decision = await decide(loadEvent('ec2/CreateTags-exemption-tag-failed-unauthorized.json'), exemptionTagAdded, {
        config: parseConfig({}, exemptionRules),
        env: {},
        facts: offlineFacts,
        now: NOW,
      });
      expect(decision.verdict).toStrictEqual({ kind: 'skipped', reason: 'the call failed (Client.UnauthorizedOperation), so it changed nothing', cause: 'failed-call' });
    });

    it('notifies by default, at the medium severity of its finding', async () => {
      const decision = await decide(loadEvent('cloudtrail/AddTags-exemption-tag-trail.json'), exemptionTagAdded, {
        config: parseConfig({}, exemptionRules),
        env: {},
        facts: offlineFacts,
        now: NOW,
      });
      expect([decision.mode, decision.verdict.kind, decision.severity]).toStrictEqual(['notify', 'violation', 'medium']);
    });
  });
});
