import { describe, expect, it } from 'vitest';
import { AlertMessageSchema } from '../notify/alert-message.js';
import { renderJson } from '../notify/alert.js';
import { renderChatbot } from '../notify/chatbot.js';
import { boundedJson, buildPublishInput } from '../notify/sns.js';
import { TOPIC } from './helpers/fake-slack.js';
import { appliedAlert, exemptAlert, failedPartWayAlert, proposedAlert } from './helpers/notify-samples.js';

function bodies(input: Record<string, unknown>): Record<string, string> {
  return JSON.parse(input['Message'] as string) as Record<string, string>;
}

describe('SNS publish', () => {
  it('sends the alert JSON to lambda, sqs and email-json, and a Chatbot custom notification to https', async () => {
    const alert = await appliedAlert();
    const body = bodies(buildPublishInput(alert, TOPIC));
    expect(Object.keys(body)).toStrictEqual(['default', 'email', 'email-json', 'sqs', 'lambda', 'https']);
    expect(JSON.parse(body['lambda'] ?? '')).toStrictEqual(renderJson(alert));
    expect(body['sqs']).toBe(body['lambda']);
    expect(body['email-json']).toBe(body['lambda']);
    expect(JSON.parse(body['https'] ?? '')).toStrictEqual(renderChatbot(renderJson(alert)));
  });

  it.each([
    ['applied', appliedAlert],
    ['proposed', proposedAlert],
    ['failed', failedPartWayAlert],
    ['exempt', exemptAlert],
  ] as const)('publishes a %s alert that the notifier parses back unchanged', async (_, sample) => {
    const alert = await sample();
    const parsed = AlertMessageSchema.safeParse(JSON.parse(bodies(buildPublishInput(alert, TOPIC))['lambda'] ?? ''));
    expect(parsed.success).toBe(true);
    // The decision's fields the schema does not model (finding codes, undo reasons, alreadyDoneCodes) stay in the JSON for other consumers.
    expect(parsed.data?.decision.eventId).toBe(alert.decision.eventId);
  });

  it("keeps a member account's console sign-in through the notifier, so its links open that account", async () => {
    const alert = await appliedAlert();
    const signIn = { portalUrl: 'https://d-1234567890.awsapps.com/start', roleName: 'SecurityAudit' };
    const parsed = AlertMessageSchema.safeParse(JSON.parse(bodies(buildPublishInput({ ...alert, decision: { ...alert.decision, consoleSignIn: signIn } }, TOPIC))['lambda'] ?? ''));
    expect(parsed.data?.decision.consoleSignIn).toStrictEqual(signIn);
    const forged = AlertMessageSchema.safeParse(JSON.parse(bodies(buildPublishInput({ ...alert, decision: { ...alert.decision, consoleSignIn: { ...signIn, portalUrl: 'https://evil.example/start' } } }, TOPIC))['lambda'] ?? ''));
    expect(forged.success).toBe(false);
  });

  it('keeps the renderJson contract: the same top-level keys as before', async () => {
    const json = renderJson(await failedPartWayAlert());
    expect(Object.keys(json)).toStrictEqual(['schemaVersion', 'outcome', 'rationale', 'decision', 'undo', 'execution']);
    expect(json.schemaVersion).toBe('1');
  });

  it('writes the Chatbot notification in the documented custom schema', async () => {
    const chatbot = renderChatbot(renderJson(await appliedAlert()));
    expect(chatbot.version).toBe('1.0');
    expect(chatbot.source).toBe('custom');
    expect(chatbot.content.textType).toBe('client-markdown');
    expect(chatbot.content.title).toBe(':red_circle: HIGH · APPLIED, VERIFIED · Security group open to the internet');
    expect(chatbot.content.nextSteps).toStrictEqual([
      'sg-0a1b2c3d4e5f67890 in the AWS console: https://us-east-1.console.aws.amazon.com/ec2/home?region=us-east-1#SecurityGroup:groupId=sg-0a1b2c3d4e5f67890',
      'CloudTrail event 7cbd12f7-48e3-4e4c-a988-254bb5154dfb: https://us-east-1.console.aws.amazon.com/cloudtrailv2/home?region=us-east-1#/events/7cbd12f7-48e3-4e4c-a988-254bb5154dfb',
    ]);
    expect(chatbot.content.description).toContain('How to undo (one command):\n```\n# 1. Re-open the revoked ingress exactly as it was granted.\naws ec2 authorize-security-group-ingress');
    expect(chatbot.metadata.additionalContext).toStrictEqual({
      account: '111122223333',
      region: 'us-east-1',
      rule: 'sg-open-ingress',
      severity: 'high',
      outcome: 'applied',
      mode: 'remediate',
      eventId: '7cbd12f7-48e3-4e4c-a988-254bb5154dfb',
    });
  });

  it('shows each plan step with its AWS CLI command in the Chatbot notification, long prose giving way first', async () => {
    // Arrange
    const message = renderJson(await appliedAlert());
    // Act
    const description = renderChatbot({ ...message, rationale: 'x'.repeat(5000) }).content.description;
    // Assert
    expect(description.length).toBeLessThanOrEqual(3500);
    expect(description).toContain(`Why this matters: xxx`);
    expect(description).toContain(
      `   AWS CLI command:\n     aws ec2 revoke-security-group-ingress --region us-east-1 --group-id sg-0a1b2c3d4e5f67890 --security-group-rule-ids '["sgr-0f1e2d3c4b5a69788"]'\n`,
    );
    expect(description.endsWith('Rule sg-open-ingress | mode remediate | outcome applied | event id 7cbd12f7-48e3-4e4c-a988-254bb5154dfb')).toBe(true);
  });

  it('cuts long code sections in the Chatbot notification between whole lines, every fence closed', async () => {
    // Arrange
    const message = renderJson(await appliedAlert());
    const verdict = message.decision.verdict;
    if (verdict.kind !== 'violation') throw new Error('expected a violation');
    const [step] = verdict.plan;
    const [undo] = message.undo;
    if (!step || !undo) throw new Error('expected a step and its undo');
    const steps = Array.from({ length: 40 }, () => step);
    const huge = { ...message, undo: Array.from({ length: 40 }, () => undo), decision: { ...message.decision, verdict: { ...verdict, plan: steps, proposal: steps } } };
    // Act
    const description = renderChatbot(huge).content.description;
    // Assert
    expect(description.length).toBeLessThanOrEqual(3500);
    expect(description.split('\n').filter((line) => line === '```').length % 2).toBe(0);
    expect(description.endsWith('\n```')).toBe(true);
    expect(description).toMatch(/\n…\[truncated\] \d+ more line\(s\) not shown\n```\n/);
    const commands = description.split('\n').filter((line) => line.trimStart().startsWith('aws ec2 revoke'));
    expect(commands.length).toBeGreaterThan(0);
    expect(commands.every((line) => line.endsWith(`'["sgr-0f1e2d3c4b5a69788"]'`))).toBe(true);
  });

  it('keeps a huge alert under the SNS size limit, every JSON body still parseable', async () => {
    const alert = await appliedAlert();
    const huge = { ...alert, rationale: 'r'.repeat(300_000) };
    const input = buildPublishInput(huge, TOPIC);
    expect(Buffer.byteLength(input['Message'] as string)).toBeLessThan(256 * 1024);
    const body = bodies(input);
    const lambda = JSON.parse(body['lambda'] ?? '') as { rationale: string };
    expect(lambda.rationale.endsWith('…[truncated]')).toBe(true);
    expect(AlertMessageSchema.safeParse(lambda).success).toBe(true);
    expect(body['email']?.endsWith('\n…[truncated]')).toBe(true);
  });

  it('boundedJson cuts the longest strings first and leaves short values whole', () => {
    const json = boundedJson({ a: 'x'.repeat(1000), b: 'short', c: ['y'.repeat(500)] }, 400);
    expect(json.length).toBeLessThanOrEqual(400);
    const parsed = JSON.parse(json) as { a: string; b: string; c: string[] };
    expect(parsed.b).toBe('short');
    expect(parsed.a.endsWith('…[truncated]')).toBe(true);
  });
});
