import { DeleteNetworkAclEntryCommand, DescribeNetworkAclsCommand, EC2Client, type NetworkAclEntry } from '@aws-sdk/client-ec2';
import { PublishCommand, SNSClient } from '@aws-sdk/client-sns';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.js';
import { decide, offlineFacts } from '../../engine/decide.js';
import type { CloudTrailEvent } from '../../engine/event.js';
import type { InvocationResult } from '../../engine/lambda.js';
import type { Facts, Verdict } from '../../engine/types.js';
import { securityGroupRules } from '../../remediations/security-groups/index.js';
import { loadEvent } from '../helpers/fixtures.js';
import { registeredRule } from '../helpers/registered.js';
import { familyHandler, ruleEvaluator } from '../helpers/rule-harness.js';

const evaluate = ruleEvaluator('nacl-open-ingress');
const naclOpenIngress = registeredRule('nacl-open-ingress');
const ACL = 'acl-0f1e2d3c4b5a69788';
const filter = { Filters: [{ Name: 'network-acl-id', Values: [ACL] }] };

function violation(event: CloudTrailEvent, options: Parameters<typeof evaluate>[1] = {}): Extract<Verdict, { kind: 'violation' }> {
  const verdict = evaluate(event, options);
  if (verdict.kind !== 'violation') throw new Error(`expected a violation, got ${verdict.kind}: ${JSON.stringify(verdict)}`);
  return verdict;
}

const request = (event: CloudTrailEvent) => event.detail.requestParameters as Record<string, unknown>;

describe('nacl-open-ingress', () => {
  describe('evaluate', () => {
    it('flags tcp/22 allowed in from 0.0.0.0/0 and deletes exactly that entry, reading it before and after; the undo recreates it as the event made it', () => {
      // Arrange
      const event = loadEvent('ec2/CreateNetworkAclEntry-world-ssh.json');
      // Act
      const verdict = evaluate(event);
      // Assert
      const check = {
        service: 'ec2',
        operation: 'DescribeNetworkAcls',
        input: filter,
        probe: 'networkAclIngressEntry',
        expect: { networkAclId: ACL, ruleNumber: 110, cidr: '0.0.0.0/0', protocol: '6', fromPort: 22, toPort: 22 },
        description: `${ACL} ingress rule 110 still allows 0.0.0.0/0 on tcp/22`,
      };
      expect(verdict).toStrictEqual({
        kind: 'violation',
        summary: `${ACL}: ingress rule 110 allows tcp/22 from 0.0.0.0/0`,
        resources: [ACL],
        findings: [
          {
            code: 'forbidden-port-open',
            severity: 'high',
            message: `${ACL} ingress rule 110: tcp/22 open to 0.0.0.0/0 (the whole internet) includes ports outside the allowed list (22/ssh). Network ACL entries are evaluated by rule number: an entry with a lower number can still deny this traffic first.`,
            subject: 'rule 110 tcp/22 from 0.0.0.0/0',
          },
        ],
        plan: [
          {
            service: 'ec2',
            operation: 'DeleteNetworkAclEntry',
            input: { NetworkAclId: ACL, RuleNumber: 110, Egress: false },
            reason: `Delete ${ACL} ingress rule 110 (allow tcp/22 from 0.0.0.0/0), open to the internet on a forbidden port; other entries stay.`,
            undo: {
              service: 'ec2',
              operation: 'CreateNetworkAclEntry',
              input: { NetworkAclId: ACL, RuleNumber: 110, Egress: false, Protocol: '6', RuleAction: 'allow', CidrBlock: '0.0.0.0/0', PortRange: { From: 22, To: 22 } },
              reason: 'Recreate the network ACL entry exactly as the event created it.',
            },
            alreadyDoneCodes: ['InvalidNetworkAclEntry.NotFound', 'InvalidNetworkAclID.NotFound'],
            precondition: check,
            verification: check,
          },
        ],
      });
    });

    it('flags all traffic from ::/0 set by ReplaceNetworkAclEntry, and recreates it with Ipv6CidrBlock, never CidrBlock', () => {
      const verdict = violation(loadEvent('ec2/ReplaceNetworkAclEntry-ipv6-all-traffic.json'));
      expect(verdict.findings.map((f) => [f.code, f.subject])).toStrictEqual([['all-traffic-open', 'rule 101 all traffic from ::/0']]);
      expect(verdict.plan.map((step) => [step.input, step.undo?.input, step.precondition?.expect])).toStrictEqual([
        [
          { NetworkAclId: ACL, RuleNumber: 101, Egress: false },
          { NetworkAclId: ACL, RuleNumber: 101, Egress: false, Protocol: '-1', RuleAction: 'allow', Ipv6CidrBlock: '::/0' },
          { networkAclId: ACL, ruleNumber: 101, cidr: '::/0', protocol: '-1' },
        ],
      ]);
    });

    it('flags a port range that contains a forbidden port (1024-65535 contains mysql, rdp and postgres), and udp too', () => {
      const event = loadEvent('ec2/CreateNetworkAclEntry-world-ssh.json');
      request(event)['portRange'] = { from: 1024, to: 65535 };
      expect(violation(event).findings[0]?.message).toContain('includes ports outside the allowed list (1433/mssql, 1521/oracle, 2049/nfs)');
      const udp = loadEvent('ec2/CreateNetworkAclEntry-world-ssh.json');
      Object.assign(request(udp), { aclProtocol: '17', portRange: { from: 161, to: 161 } });
      expect(violation(udp).findings[0]?.message).toContain('udp/161 open to 0.0.0.0/0 (the whole internet) includes ports outside the allowed list (161)');
    });

    it('treats any /0 as the whole internet, whatever the address, and reads ports sent as strings and protocols sent by name', () => {
      const event = loadEvent('ec2/CreateNetworkAclEntry-world-ssh.json');
      Object.assign(request(event), { cidrBlock: '203.0.113.9/0', aclProtocol: 'tcp', portRange: { from: '3389', to: '3389' }, ruleNumber: '120' });
      const verdict = violation(event);
      expect(verdict.plan[0]?.input).toStrictEqual({ NetworkAclId: ACL, RuleNumber: 120, Egress: false });
      expect(verdict.plan[0]?.undo?.input).toStrictEqual({
        NetworkAclId: ACL,
        RuleNumber: 120,
        Egress: false,
        Protocol: 'tcp',
        RuleAction: 'allow',
        CidrBlock: '203.0.113.9/0',
        PortRange: { From: 3389, To: 3389 },
      });
      expect(verdict.plan[0]?.precondition?.expect).toStrictEqual({ networkAclId: ACL, ruleNumber: 120, cidr: '203.0.113.9/0', protocol: '6', fromPort: 3389, toPort: 3389 });
    });

    it('reads the API name `protocol` when a record has no `aclProtocol`', () => {
      const event = loadEvent('ec2/CreateNetworkAclEntry-world-ssh.json');
      delete request(event)['aclProtocol'];
      request(event)['protocol'] = '-1';
      expect(violation(event).findings[0]?.code).toBe('all-traffic-open');
    });

    it('passes https from the internet, egress entries, deny entries, narrower ranges, and protocols without ports (icmp)', () => {
      expect(evaluate(loadEvent('ec2/CreateNetworkAclEntry-world-https-compliant.json'))).toStrictEqual({
        kind: 'compliant',
        summary: `${ACL} ingress rule 100 (allow tcp/443 from 0.0.0.0/0) opens no forbidden port to the internet`,
        resources: [ACL],
      });
      expect(evaluate(loadEvent('ec2/CreateNetworkAclEntry-egress-all-traffic-compliant.json')).kind).toBe('compliant');
      expect(evaluate(loadEvent('ec2/ReplaceNetworkAclEntry-office-ssh-compliant.json')).kind).toBe('compliant');
      const deny = loadEvent('ec2/CreateNetworkAclEntry-world-ssh.json');
      request(deny)['ruleAction'] = 'deny';
      expect(evaluate(deny).kind).toBe('compliant');
      const wide = loadEvent('ec2/CreateNetworkAclEntry-world-ssh.json');
      request(wide)['cidrBlock'] = '0.0.0.0/1';
      expect(evaluate(wide).kind).toBe('compliant');
      const icmp = loadEvent('ec2/CreateNetworkAclEntry-world-ssh.json');
      Object.assign(request(icmp), { aclProtocol: '1', portRange: {}, icmpTypeCode: { code: -1, type: -1 } });
      expect(evaluate(icmp).kind).toBe('compliant');
    });

    it('reads a protocol named like an object property (`constructor`) as a protocol without ports, and judges the present by its number', () => {
      const event = loadEvent('ec2/CreateNetworkAclEntry-world-ssh.json');
      request(event)['aclProtocol'] = 'constructor';
      expect(evaluate(event)).toStrictEqual({
        kind: 'compliant',
        summary: `${ACL} ingress rule 110 (allow protocol constructor from 0.0.0.0/0) opens no forbidden port to the internet`,
        resources: [ACL],
      });
    });

    it('honours the configured allowed ports, parsed as sg-open-ingress parses them', () => {
      const event = loadEvent('ec2/CreateNetworkAclEntry-world-ssh.json');
      request(event)['portRange'] = { from: 1024, to: 65535 };
      expect(evaluate(event, { config: { rules: { 'nacl-open-ingress': { allowedPorts: ['tcp/443', 'tcp/1024-65535'] } } } }).kind).toBe('compliant');
      expect(() => parseConfig({ rules: { 'nacl-open-ingress': { allowedPorts: ['tcp/90-80'] } } }, securityGroupRules)).toThrow(
        'a port range goes from the lower port to the higher one',
      );
    });

    it('gives an exempt verdict, with what the exemption let through, when the network ACL carries the exemption tag', () => {
      const facts: Facts = { networkAcl: { status: 'ok', value: { tags: { 'remediation:exempt': 'public DMZ subnet, SEC-77' } } } };
      const verdict = evaluate(loadEvent('ec2/CreateNetworkAclEntry-world-ssh.json'), { facts });
      expect(verdict).toMatchObject({ kind: 'exempt', reason: `${ACL} is tagged remediation:exempt: public DMZ subnet, SEC-77`, resources: [ACL] });
      expect(verdict.kind === 'exempt' && verdict.findings?.map((f) => f.code)).toStrictEqual(['forbidden-port-open']);
    });

    it('still plans the delete when the tags are unavailable: it never guesses a pass', () => {
      const facts: Facts = { networkAcl: { status: 'unavailable', reason: 'offline' } };
      expect(evaluate(loadEvent('ec2/CreateNetworkAclEntry-world-ssh.json'), { facts }).kind).toBe('violation');
    });

    it('skips an event that names no network ACL, or whose entry cannot be read', () => {
      const event = loadEvent('ec2/CreateNetworkAclEntry-world-ssh.json');
      delete request(event)['networkAclId'];
      expect(evaluate(event)).toStrictEqual({ kind: 'skipped', reason: 'the event names no network ACL' });
      const partial = loadEvent('ec2/CreateNetworkAclEntry-world-ssh.json');
      delete request(partial)['ruleNumber'];
      expect(evaluate(partial)).toStrictEqual({ kind: 'skipped', reason: `the request of ${ACL} lacks the rule number, direction, protocol, action or CIDR block` });
    });
  });

  describe('through the engine', () => {
    const config = parseConfig({}, securityGroupRules);

    it('proposes by default, and looks the tags up only for an offending entry', async () => {
      const decision = await decide(loadEvent('ec2/CreateNetworkAclEntry-world-ssh.json'), naclOpenIngress, { config, env: {}, facts: offlineFacts, now: new Date(0) });
      expect(decision.mode).toBe('propose');
      expect(decision.unavailableFacts).toStrictEqual(['networkAcl']);
      const compliant = await decide(loadEvent('ec2/CreateNetworkAclEntry-world-https-compliant.json'), naclOpenIngress, { config, env: {}, facts: offlineFacts, now: new Date(0) });
      expect(compliant.unavailableFacts).toStrictEqual([]);
    });

    it('skips a failed call before the rule runs', async () => {
      const decision = await decide(loadEvent('ec2/CreateNetworkAclEntry-failed-unauthorized.json'), naclOpenIngress, { config, env: {}, facts: offlineFacts, now: new Date(0) });
      expect(decision.verdict).toStrictEqual({ kind: 'skipped', reason: 'the call failed (Client.UnauthorizedOperation), so it changed nothing', cause: 'failed-call' });
    });
  });

  describe('through the Lambda path, against the present state', () => {
    const ec2 = mockClient(EC2Client);
    const sns = mockClient(SNSClient);
    const SSH: NetworkAclEntry = { RuleNumber: 110, Egress: false, Protocol: '6', RuleAction: 'allow', CidrBlock: '0.0.0.0/0', PortRange: { From: 22, To: 22 } };
    const DENY_ALL: NetworkAclEntry = { RuleNumber: 32767, Egress: false, Protocol: '-1', RuleAction: 'deny', CidrBlock: '0.0.0.0/0' };

    /** One network ACL whose entries a delete changes, answering as EC2 does. */
    function fakeAcl(entries: NetworkAclEntry[], tags: { Key: string; Value: string }[] = []) {
      let current = [...entries];
      ec2.on(DescribeNetworkAclsCommand).callsFake(() => ({ NetworkAcls: [{ NetworkAclId: ACL, Entries: current, Tags: tags }] }));
      ec2.on(DeleteNetworkAclEntryCommand).callsFake((input: { RuleNumber: number; Egress: boolean }) => {
        const before = current.length;
        current = current.filter((entry) => entry.RuleNumber !== input.RuleNumber || entry.Egress !== input.Egress);
        if (current.length === before) throw Object.assign(new Error('no such entry'), { name: 'InvalidNetworkAclEntry.NotFound', $fault: 'client', $metadata: { httpStatusCode: 400 } });
        return {};
      });
      return { entries: () => current };
    }

    async function run(mode: 'remediate' | 'propose' = 'remediate') {
      const { handler } = familyHandler('security-groups', { modes: { 'nacl-open-ingress': mode } });
      return handler(loadEvent('ec2/CreateNetworkAclEntry-world-ssh.json'));
    }

    function outcome(result: InvocationResult): string | undefined {
      return result.status === 'processed' ? result.decisions[0]?.outcome : undefined;
    }

    function alertText(): string {
      const message = JSON.parse(String(sns.commandCalls(PublishCommand).at(-1)?.args[0].input.Message)) as Record<string, string>;
      return message['email'] ?? '';
    }

    beforeEach(() => {
      ec2.reset();
      sns.reset();
      sns.on(PublishCommand).resolves({ MessageId: 'm-1' });
    });

    it('deletes the open entry between a read before and a read after, and only that entry', async () => {
      const acl = fakeAcl([SSH, DENY_ALL]);
      const result = await run();
      expect(ec2.commandCalls(DeleteNetworkAclEntryCommand).map((call) => call.args[0].input)).toStrictEqual([{ NetworkAclId: ACL, RuleNumber: 110, Egress: false }]);
      // The tag lookup, the read before and the read after.
      expect(ec2.commandCalls(DescribeNetworkAclsCommand).map((call) => call.args[0].input)).toStrictEqual([filter, filter, filter]);
      expect(acl.entries()).toStrictEqual([DENY_ALL]);
      expect(outcome(result)).toBe('applied');
      expect(alertText()).toContain(`after: done - ${ACL} ingress rule 110 no longer exists`);
    });

    it('an entry a person already deleted is "already fixed" on the evidence of a read, with no write', async () => {
      fakeAcl([DENY_ALL]);
      const result = await run();
      expect(ec2.commandCalls(DeleteNetworkAclEntryCommand)).toHaveLength(0);
      expect(outcome(result)).toBe('already-fixed');
    });

    it('an entry replaced since the event (same number, office range) is left alone: stale, and the alert says what it allows now', async () => {
      fakeAcl([{ ...SSH, CidrBlock: '203.0.113.0/24' }, DENY_ALL]);
      const result = await run();
      expect(ec2.commandCalls(DeleteNetworkAclEntryCommand)).toHaveLength(0);
      expect(outcome(result)).toBe('stale');
      expect(alertText()).toContain(`${ACL} ingress rule 110 now allows 203.0.113.0/24 on tcp/22, not 0.0.0.0/0 on tcp/22 as the event set it: nothing deleted`);
    });

    it('a network ACL deleted since the event answers InvalidNetworkAclID.NotFound: already fixed, nothing sent', async () => {
      ec2.on(DescribeNetworkAclsCommand).rejects(Object.assign(new Error('gone'), { name: 'InvalidNetworkAclID.NotFound', $fault: 'client', $metadata: { httpStatusCode: 400 } }));
      const result = await run();
      expect(ec2.commandCalls(DeleteNetworkAclEntryCommand)).toHaveLength(0);
      expect(outcome(result)).toBe('already-fixed');
    });

    it('a delete the role may not make (UnauthorizedOperation) fails, and the entry stays', async () => {
      const acl = fakeAcl([SSH, DENY_ALL]);
      ec2.on(DeleteNetworkAclEntryCommand).rejects(Object.assign(new Error('denied'), { name: 'UnauthorizedOperation', $fault: 'client', $metadata: { httpStatusCode: 403 } }));
      const result = await run();
      expect(outcome(result)).toBe('failed');
      expect(acl.entries()).toStrictEqual([SSH, DENY_ALL]);
    });

    it('an exempt network ACL (its tag, read by the lookup) is not touched', async () => {
      fakeAcl([SSH, DENY_ALL], [{ Key: 'remediation:exempt', Value: 'public bastion subnet' }]);
      const result = await run();
      expect(ec2.commandCalls(DeleteNetworkAclEntryCommand)).toHaveLength(0);
      expect(ec2.commandCalls(DescribeNetworkAclsCommand)).toHaveLength(1);
      expect(outcome(result)).toBe('exempt');
    });

    it('in propose mode (the default), reads the entry and proposes the delete without sending it', async () => {
      fakeAcl([SSH, DENY_ALL]);
      const result = await run('propose');
      expect(ec2.commandCalls(DeleteNetworkAclEntryCommand)).toHaveLength(0);
      expect(outcome(result)).toBe('proposed');
      expect(alertText()).toContain(`checked now: still needed - ${ACL} ingress rule 110 still allows 0.0.0.0/0 on tcp/22`);
    });
  });
});
