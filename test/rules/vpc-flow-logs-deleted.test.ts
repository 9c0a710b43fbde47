import { EC2Client } from '@aws-sdk/client-ec2';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.js';
import { decide, offlineFacts } from '../../engine/decide.js';
import type { CloudTrailEvent } from '../../engine/event.js';
import { securityGroupRules } from '../../remediations/security-groups/index.js';
import { FIND_THE_FLOW_LOG } from '../../remediations/security-groups/vpc-flow-logs-deleted.js';
import { loadEvent } from '../helpers/fixtures.js';
import { registeredRule } from '../helpers/registered.js';
import { familyHandler, ruleEvaluator } from '../helpers/rule-harness.js';

const evaluate = ruleEvaluator('vpc-flow-logs-deleted');
const vpcFlowLogsDeleted = registeredRule('vpc-flow-logs-deleted');
const DELETED = 'fl-0a1b2c3d4e5f60718';
const NOT_FOUND = 'fl-0b2c3d4e5f6071829';
const arn = (id: string) => `arn:aws:ec2:us-east-1:111122223333:vpc-flow-log/${id}`;

const deletedFinding = (id: string) => ({
  code: 'flow-log-deleted',
  severity: 'high',
  message: `Flow log ${id} was deleted: the traffic it recorded is no longer logged. ${FIND_THE_FLOW_LOG}`,
  subject: id,
});

const request = (event: CloudTrailEvent) => event.detail.requestParameters as { DeleteFlowLogsRequest: Record<string, unknown> };

describe('vpc-flow-logs-deleted', () => {
  it('says where the deleted flow log can still be found, and what recreating it takes', () => {
    expect(FIND_THE_FLOW_LOG).toBe(
      'The event names only the flow log id: what it covered and where it delivered are gone with it, and no read can show a deleted flow log. Find the CreateFlowLogs event that created it (CloudTrail event history keeps 90 days; a trail or CloudTrail Lake keeps more), whose response lists the id in flowLogIdSet and whose request names the resources (ResourceIds: VPC, subnet or network interface), TrafficType, the destination (LogDestinationType with LogDestination, or LogGroupName and DeliverLogsPermissionArn), LogFormat and MaxAggregationInterval; then recreate it with CreateFlowLogs and those settings.',
    );
  });

  describe('evaluate', () => {
    it('flags the genuine Stratus Red Team record (wrapped request, one {content, tag} id, unsuccessful "") and plans nothing', () => {
      // Arrange
      const event = loadEvent('ec2/DeleteFlowLogs-stratus-genuine.json');
      // Act
      const verdict = evaluate(event);
      // Assert
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: 'flow log fl-0e17aa62a21d4bbfe deleted',
        resources: ['arn:aws:ec2:megov-south-1r:498376118699:vpc-flow-log/fl-0e17aa62a21d4bbfe'],
        findings: [deletedFinding('fl-0e17aa62a21d4bbfe')],
        plan: [],
      });
    });

    it('counts only the ids the response does not list as unsuccessful', () => {
      expect(evaluate(loadEvent('ec2/DeleteFlowLogs-one-deleted-one-unsuccessful.json'))).toStrictEqual({
        kind: 'violation',
        summary: `flow log ${DELETED} deleted (${NOT_FOUND} not deleted)`,
        resources: [arn(DELETED)],
        findings: [deletedFinding(DELETED)],
        plan: [],
      });
    });

    it('passes a call that deleted nothing: every id unsuccessful, with the error code', () => {
      expect(evaluate(loadEvent('ec2/DeleteFlowLogs-all-unsuccessful-compliant.json'))).toStrictEqual({
        kind: 'compliant',
        summary: `DeleteFlowLogs deleted no flow log: the response lists every id as unsuccessful: ${NOT_FOUND} (InvalidFlowLogId.NotFound)`,
        resources: [arn(NOT_FOUND)],
      });
    });

    it('reads unsuccessful items given as a list, and several ids', () => {
      const event = loadEvent('ec2/DeleteFlowLogs-one-deleted-one-unsuccessful.json');
      const third = 'fl-0c3d4e5f607182930';
      request(event).DeleteFlowLogsRequest['FlowLogId'] = [
        { content: DELETED, tag: 1 },
        { content: NOT_FOUND, tag: 2 },
        { content: third, tag: 3 },
      ];
      (event.detail.responseElements as { DeleteFlowLogsResponse: Record<string, unknown> }).DeleteFlowLogsResponse['unsuccessful'] = {
        item: [{ error: { code: 'InvalidFlowLogId.NotFound', message: 'x' }, resourceId: NOT_FOUND }],
      };
      expect(evaluate(event)).toMatchObject({ kind: 'violation', summary: `flow logs ${DELETED}, ${third} deleted (${NOT_FOUND} not deleted)`, resources: [arn(DELETED), arn(third)] });
    });

    it('reads ids given as a list in content, and counts every id when the record has no response', () => {
      const event = loadEvent('ec2/DeleteFlowLogs-one-deleted-one-unsuccessful.json');
      request(event).DeleteFlowLogsRequest['FlowLogId'] = { content: [DELETED, NOT_FOUND] };
      event.detail.responseElements = null;
      expect(evaluate(event)).toMatchObject({ kind: 'violation', resources: [arn(DELETED), arn(NOT_FOUND)] });
    });

    it('skips an event that names no flow log', () => {
      const event = loadEvent('ec2/DeleteFlowLogs-stratus-genuine.json');
      event.detail.requestParameters = { DeleteFlowLogsRequest: {} };
      expect(evaluate(event)).toStrictEqual({ kind: 'skipped', reason: 'the event names no flow log' });
    });
  });

  describe('through the engine', () => {
    const config = parseConfig({}, securityGroupRules);

    it('notifies by default, makes no lookup and has no permission to ask for', async () => {
      const decision = await decide(loadEvent('ec2/DeleteFlowLogs-one-deleted-one-unsuccessful.json'), vpcFlowLogsDeleted, { config, env: {}, facts: offlineFacts, now: new Date(0) });
      expect(decision.mode).toBe('notify');
      expect(vpcFlowLogsDeleted.lookups).toStrictEqual([]);
      expect(vpcFlowLogsDeleted.permissions).toStrictEqual([]);
    });

    it('skips a failed call before the rule runs', async () => {
      const decision = await decide(loadEvent('ec2/DeleteFlowLogs-failed-unauthorized.json'), vpcFlowLogsDeleted, { config, env: {}, facts: offlineFacts, now: new Date(0) });
      expect(decision.verdict).toStrictEqual({ kind: 'skipped', reason: 'the call failed (Client.UnauthorizedOperation), so it changed nothing', cause: 'failed-call' });
    });

    it('is exempt when the config exemptions list names the flow log by id', async () => {
      const exempting = parseConfig(
        { exemptions: [{ resource: DELETED, rules: ['vpc-flow-logs-deleted'], reason: 'VPC retired, CHG-311', expires: '2025-06-30' }] },
        securityGroupRules,
      );
      const decision = await decide(loadEvent('ec2/DeleteFlowLogs-one-deleted-one-unsuccessful.json'), vpcFlowLogsDeleted, {
        config: exempting,
        env: {},
        facts: offlineFacts,
        now: new Date('2025-03-10T00:00:00Z'),
      });
      expect(decision.verdict).toMatchObject({ kind: 'exempt', reason: `${arn(DELETED)} is exempt in the config until 2025-06-30: VPC retired, CHG-311` });
    });
  });

  describe('through the Lambda path', () => {
    const ec2 = mockClient(EC2Client);
    const sns = mockClient(SNSClient);

    beforeEach(() => {
      ec2.reset();
      sns.reset();
      sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    });

    it('publishes one high alert naming the deleted id and how to find the flow log, and calls EC2 not at all, even in remediate mode', async () => {
      const { handler } = familyHandler('security-groups', { modes: { 'vpc-flow-logs-deleted': 'remediate' } });

      const result = await handler(loadEvent('ec2/DeleteFlowLogs-one-deleted-one-unsuccessful.json'));

      expect(result.status === 'processed' && result.decisions).toStrictEqual([
        { rule: 'vpc-flow-logs-deleted', verdict: 'violation', outcome: 'notified', summary: `flow log ${DELETED} deleted (${NOT_FOUND} not deleted)` },
      ]);
      expect(ec2.calls()).toHaveLength(0);
      const published = sns.commandCalls(PublishCommand);
      expect(published).toHaveLength(1);
      expect(published[0]?.args[0].input.MessageAttributes?.['severity']?.StringValue).toBe('high');
      expect(String(published[0]?.args[0].input.Message)).toContain(`Flow log ${DELETED} was deleted`);
      expect(String(published[0]?.args[0].input.Message)).toContain('Find the CreateFlowLogs event that created it');
    });
  });
});
