import { describe, expect, it } from 'vitest';
import type { AlertMessage, MessagePlanStep } from '../notify/alert-message.js';
import { renderJson } from '../notify/alert.js';
import { alertView, cliLines } from '../notify/alert-view.js';
import { cloudTrailEventUrl, resourceConsoleUrl } from '../notify/console-links.js';
import { buildSlackMessage, clip, clipLine, CODE_BLOCKS_PER_SECTION, escapeMrkdwn, limitBlocks, SLACK_LIMITS, TRUNCATION_MARKER, type SlackBlock } from '../notify/slack.js';
import { appliedAlert } from './helpers/notify-samples.js';

async function appliedMessage(): Promise<AlertMessage> {
  return renderJson(await appliedAlert());
}

function texts(block: SlackBlock): string[] {
  if (block.type === 'header') return [block.text.text];
  if (block.type === 'section') return 'fields' in block ? block.fields.map((f) => f.text) : [block.text.text];
  if (block.type === 'context') return block.elements.map((e) => e.text);
  return [];
}

describe('slack message', () => {
  describe('limits', () => {
    it('splits a huge plan between whole lines over at most four code blocks, each closed, the last saying how many lines were cut', async () => {
      // Arrange
      const message = await appliedMessage();
      const verdict = message.decision.verdict;
      if (verdict.kind !== 'violation') throw new Error('expected a violation');
      const [step] = verdict.plan;
      if (!step) throw new Error('expected a step');
      const plan: MessagePlanStep[] = Array.from({ length: 60 }, (_, i) => ({ ...step, reason: `step ${i} ${'x'.repeat(100)}` }));
      const huge: AlertMessage = { ...message, decision: { ...message.decision, verdict: { ...verdict, plan } } };
      // Act
      const { blocks } = buildSlackMessage(huge);
      // Assert
      const planTexts = blocks.flatMap(texts).filter((text) => text.startsWith('*What was done'));
      expect(planTexts.map((text) => text.split('\n')[0])).toStrictEqual([
        '*What was done (and verified by reading it back)*',
        ...Array.from({ length: CODE_BLOCKS_PER_SECTION - 1 }, () => '*What was done (and verified by reading it back) (continued)*'),
      ]);
      for (const text of planTexts) {
        expect(text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
        expect(text.split('\n')[1]).toBe('```');
        expect(text.endsWith('\n```')).toBe(true);
      }
      const shown = planTexts.flatMap((text) => text.split('\n').slice(2, -1));
      const allLines = alertView(huge).plan?.lines.length ?? 0;
      expect(shown.at(-1)).toBe(`${TRUNCATION_MARKER} ${allLines - (shown.length - 1)} more line(s) not shown`);
      // Every line shown is whole: each command is there in full, or not at all.
      expect(shown.filter((line) => line.trimStart().startsWith('aws ')).every((line) => line.endsWith(`'["sgr-0f1e2d3c4b5a69788"]'`))).toBe(true);
    });

    it('comments out an AWS CLI command it has to cut, so what is left cannot run', () => {
      const line = `     aws iam put-role-policy --region us-east-1 --role-name r --policy-name p --policy-document '${'x'.repeat(100)}'`;
      expect(clipLine(line, 60)).toBe(`     # aws iam put-role-policy --region us-east-${TRUNCATION_MARKER}`);
      expect(clipLine('short', 60)).toBe('short');
    });

    it('keeps every block within its documented limit for long values', async () => {
      const message = await appliedMessage();
      const long = 'y'.repeat(5000);
      const huge: AlertMessage = {
        ...message,
        rationale: long,
        note: long,
        decision: { ...message.decision, ruleTitle: long, principal: long, eventName: long },
      };
      const { text, blocks } = buildSlackMessage(huge);
      expect(text.length).toBeLessThanOrEqual(SLACK_LIMITS.fallbackText);
      expect(blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
      for (const block of blocks) {
        if (block.type === 'header') expect(block.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.headerText);
        if (block.type === 'section' && 'fields' in block) {
          expect(block.fields.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionFields);
          for (const field of block.fields) expect(field.text.length).toBeLessThanOrEqual(SLACK_LIMITS.fieldText);
        }
        if (block.type === 'section' && 'text' in block) expect(block.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
      }
      const header = blocks[0];
      expect(header?.type === 'header' && header.text.text.endsWith(TRUNCATION_MARKER)).toBe(true);
      expect(blocks.flatMap(texts).filter((t) => t.includes(TRUNCATION_MARKER)).length).toBeGreaterThanOrEqual(4);
    });

    it('keeps at most 50 blocks and says how many were cut', () => {
      const blocks: SlackBlock[] = Array.from({ length: 53 }, () => ({ type: 'divider' }));
      const limited = limitBlocks(blocks);
      expect(limited).toHaveLength(50);
      expect(limited.at(-1)).toStrictEqual({ type: 'context', elements: [{ type: 'mrkdwn', text: '…[truncated] 4 more block(s) not shown' }] });
    });

    it('never splits an escaped entity or a surrogate pair when cutting', () => {
      expect(clip(`${'a'.repeat(10)}&amp;tail${'b'.repeat(20)}`, 24)).toBe(`${'a'.repeat(10)}${TRUNCATION_MARKER}`);
      expect(clip(`${'a'.repeat(11)}😀${'b'.repeat(20)}`, 24)).toBe(`${'a'.repeat(11)}${TRUNCATION_MARKER}`);
      expect(clip('short', 24)).toBe('short');
    });
  });

  it('escapes mrkdwn control characters in values', async () => {
    const message = await appliedMessage();
    const { blocks } = buildSlackMessage({ ...message, rationale: 'a <b> & <!channel>' });
    expect(blocks.flatMap(texts)).toContain('*Why this matters*\na &lt;b&gt; &amp; &lt;!channel&gt;\n• [high] tcp/22 open to 0.0.0.0/0 (the whole internet) includes ports outside the allowed list (22/ssh).');
    expect(escapeMrkdwn('<@U123>')).toBe('&lt;@U123&gt;');
  });
});

describe('console links', () => {
  it.each([
    ['sg-0a1b2c3d4e5f67890', 'https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#SecurityGroup:groupId=sg-0a1b2c3d4e5f67890'],
    ['vol-049df61146c4d7901', 'https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#VolumeDetails:volumeId=vol-049df61146c4d7901'],
    ['snap-066877671789bd71b', 'https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#SnapshotDetails:snapshotId=snap-066877671789bd71b'],
    ['ami-0abcdef1234567890', 'https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#ImageDetails:imageId=ami-0abcdef1234567890'],
    ['i-1234567890abcdef0', 'https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#InstanceDetails:instanceId=i-1234567890abcdef0'],
    [
      'arn:aws:ec2:eu-west-1:111122223333:security-group/sg-0a1b2c3d4e5f67890',
      'https://eu-west-1.console.aws.amazon.com/ec2/home?region=eu-west-1#SecurityGroup:groupId=sg-0a1b2c3d4e5f67890',
    ],
    ['arn:aws:iam::111122223333:role/service-role/deploy', 'https://console.aws.amazon.com/iam/home#/roles/details/deploy'],
    ['arn:aws:iam::111122223333:user/alice', 'https://console.aws.amazon.com/iam/home#/users/details/alice'],
    ['role app-role', 'https://console.aws.amazon.com/iam/home#/roles/details/app-role'],
    ['user alice', 'https://console.aws.amazon.com/iam/home#/users/details/alice'],
    ['bucket amzn-s3-demo-bucket', 'https://s3.console.aws.amazon.com/s3/buckets/amzn-s3-demo-bucket?region=us-east-1'],
    ['arn:aws:s3:::amzn-s3-demo-bucket', 'https://s3.console.aws.amazon.com/s3/buckets/amzn-s3-demo-bucket?region=us-east-1'],
    ['arn:aws:iam::111122223333:group/admins', 'https://console.aws.amazon.com/iam/home#/groups/details/admins'],
    [
      'arn:aws:iam::111122223333:policy/team/AllowAll',
      'https://console.aws.amazon.com/iam/home#/policies/details/arn%3Aaws%3Aiam%3A%3A111122223333%3Apolicy%2Fteam%2FAllowAll',
    ],
  ])('links %s', (resource, url) => {
    expect(resourceConsoleUrl(resource, 'us-east-1')).toBe(url);
  });

  it('gives no link for a resource it does not know', () => {
    expect(resourceConsoleUrl('my-bucket', 'us-east-1')).toBeUndefined();
    expect(resourceConsoleUrl('/dev/sdf on i-1234567890abcdef0', 'us-east-1')).toBeUndefined();
    expect(resourceConsoleUrl('ebs-encryption-by-default:111122223333:us-east-1', 'us-east-1')).toBeUndefined();
    expect(resourceConsoleUrl('arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com', 'us-east-1')).toBeUndefined();
  });

  it('uses the partition console of China and GovCloud regions', () => {
    expect(resourceConsoleUrl('sg-0a1b2c3d4e5f67890', 'cn-north-1')).toBe('https://console.amazonaws.cn/ec2/home?region=cn-north-1#SecurityGroup:groupId=sg-0a1b2c3d4e5f67890');
    expect(cloudTrailEventUrl('us-gov-west-1', 'abc')).toBe('https://console.amazonaws-us-gov.com/cloudtrailv2/home?region=us-gov-west-1#/events/abc');
  });

  it('makes no link from a region that is not a region name, so a hostile event cannot point a link elsewhere', () => {
    expect(resourceConsoleUrl('sg-0a1b2c3d4e5f67890', 'evil.example/x?')).toBeUndefined();
    expect(cloudTrailEventUrl('evil.example/x?', 'abc')).toBeUndefined();
    expect(resourceConsoleUrl('arn:aws:ec2:evil.example#:111122223333:volume/vol-0123456789abcdef0', 'us-east-1')).toBeUndefined();
  });

  it('encodes event ids holding lone surrogates instead of throwing', () => {
    expect(cloudTrailEventUrl('us-east-1', 'a\ud800b')).toBe('https://us-east-1.console.aws.amazon.com/cloudtrailv2/home?region=us-east-1#/events/a%EF%BF%BDb');
  });

  it('links the CloudTrail event in its region', () => {
    expect(cloudTrailEventUrl('eu-central-1', '7cbd12f7-48e3-4e4c-a988-254bb5154dfb')).toBe(
      'https://eu-central-1.console.aws.amazon.com/cloudtrailv2/home?region=eu-central-1#/events/7cbd12f7-48e3-4e4c-a988-254bb5154dfb',
    );
  });
});

describe('AWS CLI commands in alerts', () => {
  it('writes a pasteable command with the exact input, quoted for bash', () => {
    const step = { service: 's3', operation: 'PutBucketPolicy', input: { Bucket: 'b', Policy: `{"Sid":"it's"}` }, reason: 'r' };
    expect(cliLines(step, 'eu-west-1')).toStrictEqual([`aws s3api put-bucket-policy --region eu-west-1 --bucket b --policy '{"Sid":"it'\\''s"}'`]);
  });

  it('names the region for IAM too, so the command goes to the partition of the event', () => {
    const step = { service: 'iam', operation: 'AttachRolePolicy', input: { RoleName: 'r', PolicyArn: 'arn:aws-cn:iam::aws:policy/ReadOnlyAccess' }, reason: 'r' };
    expect(cliLines(step, 'cn-north-1')).toStrictEqual(['aws iam attach-role-policy --region cn-north-1 --role-name r --policy-arn arn:aws-cn:iam::aws:policy/ReadOnlyAccess']);
  });

  it('guesses no command for a service this version does not know', () => {
    const step = { service: 'rds', operation: 'ModifyDBInstance', input: { DBInstanceIdentifier: 'db' }, reason: 'r' };
    expect(cliLines(step, 'us-east-1')).toStrictEqual(['# no AWS CLI command known for rds:ModifyDBInstance']);
  });
});

