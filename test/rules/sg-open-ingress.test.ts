import { describe, expect, it } from 'vitest';
import type { CloudTrailEvent } from '../../engine/event.js';
import type { Facts, Verdict } from '../../engine/types.js';
import { loadEvent } from '../helpers/fixtures.js';
import { ruleEvaluator } from '../helpers/rule-harness.js';

const evaluate = ruleEvaluator('sg-open-ingress');

const GROUP = 'sg-0a1b2c3d4e5f67890';

function authorizeEvent(permissions: unknown[], extra: Record<string, unknown> = {}): CloudTrailEvent {
  const event = loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-legacy-no-ruleids.json');
  event.detail.requestParameters = { groupId: GROUP, ipPermissions: { items: permissions }, ...extra };
  return event;
}

const undoReason = 'Re-open the revoked ingress exactly as it was granted.';
const alreadyDone = ['InvalidPermission.NotFound', 'InvalidSecurityGroupRuleId.NotFound'];

describe('sg-open-ingress', () => {
  describe('evaluate', () => {
    it('flags tcp/22 open to 0.0.0.0/0 and revokes it by rule id, reading the rule before and after; the undo keeps the description from the request', () => {
      // Arrange
      const event = loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json');
      // Act
      const verdict = evaluate(event);
      // Assert
      const check = {
        service: 'ec2',
        operation: 'DescribeSecurityGroupRules',
        input: { SecurityGroupRuleIds: ['sgr-0f1e2d3c4b5a69788'] },
        probe: 'ingressRule',
        expect: { ruleId: 'sgr-0f1e2d3c4b5a69788', cidr: '0.0.0.0/0', ipProtocol: 'tcp', fromPort: 22, toPort: 22 },
        description: 'sgr-0f1e2d3c4b5a69788 still allows 0.0.0.0/0 on tcp/22',
      };
      expect(verdict.kind).toBe('violation');
      expect(verdict.kind === 'violation' && verdict.plan).toStrictEqual([
        {
          service: 'ec2',
          operation: 'RevokeSecurityGroupIngress',
          input: { GroupId: GROUP, SecurityGroupRuleIds: ['sgr-0f1e2d3c4b5a69788'] },
          reason: 'Close sgr-0f1e2d3c4b5a69788 (tcp/22 from 0.0.0.0/0), open to the internet on a forbidden port; compliant rules stay.',
          undo: {
            service: 'ec2',
            operation: 'AuthorizeSecurityGroupIngress',
            input: { GroupId: GROUP, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'temp access' }] }] },
            reason: undoReason,
          },
          alreadyDoneCodes: alreadyDone,
          noChangeWhen: ['UnknownIpPermissions'],
          precondition: check,
          verification: check,
        },
      ]);
    });

    it('revokes only the open ssh rule id of a mixed call; https and private postgres stay', () => {
      const verdict = evaluate(loadEvent('ec2/AuthorizeSecurityGroupIngress-mixed-ssh-https-postgres-ruleids.json'));
      expect(verdict.kind === 'violation' && verdict.plan.map((step) => step.input)).toStrictEqual([{ GroupId: GROUP, SecurityGroupRuleIds: ['sgr-01111111111111111'] }]);
      expect(verdict.kind === 'violation' && verdict.findings.map((f) => f.code)).toStrictEqual(['forbidden-port-open']);
    });

    it('revokes one exact IpPermissions match per range, IPv4 in IpRanges and IPv6 in Ipv6Ranges, when the event has no rule ids; each is read in the group first', () => {
      const verdict = evaluate(loadEvent('ec2/AuthorizeSecurityGroupIngress-mixed-ssh-https-postgres-legacy-no-ruleids.json'));
      if (verdict.kind !== 'violation') throw new Error(`expected a violation, got ${verdict.kind}`);
      expect(verdict.plan.map((step) => [step.input, step.undo?.input])).toStrictEqual([
        [
          { GroupId: GROUP, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }] },
          { GroupId: GROUP, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0', Description: 'ssh from anywhere' }] }] },
        ],
        [
          { GroupId: GROUP, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, Ipv6Ranges: [{ CidrIpv6: '::/0' }] }] },
          { GroupId: GROUP, IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, Ipv6Ranges: [{ CidrIpv6: '::/0' }] }] },
        ],
      ]);
      expect(verdict.plan.map((step) => step.precondition)).toStrictEqual([
        {
          service: 'ec2',
          operation: 'DescribeSecurityGroups',
          input: { GroupIds: [GROUP] },
          probe: 'groupIngress',
          expect: { cidr: '0.0.0.0/0', ipProtocol: 'tcp', fromPort: 22, toPort: 22, group: GROUP },
          description: `${GROUP} still allows 0.0.0.0/0 on tcp/22`,
        },
        {
          service: 'ec2',
          operation: 'DescribeSecurityGroups',
          input: { GroupIds: [GROUP] },
          probe: 'groupIngress',
          expect: { cidr: '::/0', ipProtocol: 'tcp', fromPort: 22, toPort: 22, group: GROUP },
          description: `${GROUP} still allows ::/0 on tcp/22`,
        },
      ]);
    });

    it('never puts ::/0 in IpRanges: IPv6 rdp is revoked through Ipv6Ranges', () => {
      const event = authorizeEvent([{ ipProtocol: 'tcp', fromPort: 3389, toPort: 3389, ipRanges: {}, ipv6Ranges: { items: [{ cidrIpv6: '::/0' }] } }]);
      const verdict = evaluate(event);
      expect(verdict.kind === 'violation' && verdict.plan[0]?.input).toStrictEqual({
        GroupId: GROUP,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 3389, ToPort: 3389, Ipv6Ranges: [{ CidrIpv6: '::/0' }] }],
      });
    });

    it('reads the older flat form (cidrIp at the top level)', () => {
      const verdict = evaluate(loadEvent('ec2/AuthorizeSecurityGroupIngress-flat-form-world-ssh.json'));
      expect(verdict.kind === 'violation' && verdict.plan[0]?.input).toStrictEqual({
        GroupId: GROUP,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 22, ToPort: 22, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      });
    });

    it('reads the wrapped ModifySecurityGroupRulesRequest and revokes the modified rule id', () => {
      const verdict = evaluate(loadEvent('ec2/ModifySecurityGroupRules-world-ssh.json'));
      expect(verdict.kind === 'violation' && verdict.plan[0]?.input).toStrictEqual({
        GroupId: GROUP,
        SecurityGroupRuleIds: ['sgr-0e0e0e0e0e0e0e0e1'],
      });
    });

    it('leaves a modified rule alone when the lookup says it is an egress rule', () => {
      const facts: Facts = { modifiedRules: { status: 'ok', value: { egressRuleIds: ['sgr-0e0e0e0e0e0e0e0e1'] } } };
      expect(evaluate(loadEvent('ec2/ModifySecurityGroupRules-world-ssh.json'), { facts }).kind).toBe('compliant');
    });

    it('treats any /0 as the whole internet, whatever the anonymiser left in the address', () => {
      const verdict = evaluate(loadEvent('ec2/AuthorizeSecurityGroupIngress-stratus-genuine-anonymised-slash0.json'));
      expect(verdict.kind).toBe('violation');
    });

    it('catches 0.0.0.0/1 plus 128.0.0.0/1 with all traffic', () => {
      const verdict = evaluate(loadEvent('ec2/AuthorizeSecurityGroupIngress-all-traffic-two-halves-of-internet.json'));
      expect(verdict.kind === 'violation' && verdict.findings.map((f) => f.code)).toStrictEqual(['all-traffic-open', 'all-traffic-open']);
      expect(verdict.kind === 'violation' && verdict.plan.map((step) => step.input)).toStrictEqual([
        { GroupId: GROUP, SecurityGroupRuleIds: ['sgr-0c0c0c0c0c0c0c0c1'] },
        { GroupId: GROUP, SecurityGroupRuleIds: ['sgr-0c0c0c0c0c0c0c0c2'] },
      ]);
    });

    it('flags a port range that contains a forbidden port (20-25 contains 22)', () => {
      const verdict = evaluate(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-port-range-20-25.json'));
      expect(verdict.kind === 'violation' && verdict.findings[0]?.message).toContain('22/ssh');
    });

    it('allows https to ::/0 and a range of only allowed ports', () => {
      expect(evaluate(loadEvent('ec2/AuthorizeSecurityGroupIngress-ipv6-world-https-compliant.json')).kind).toBe('compliant');
      const event = authorizeEvent([{ ipProtocol: 'tcp', fromPort: 80, toPort: 80, ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }] } }]);
      expect(evaluate(event).kind).toBe('compliant');
    });

    it('flags 80-443 to the internet, because it contains ports between the two allowed ones', () => {
      const event = authorizeEvent([{ ipProtocol: 'tcp', fromPort: 80, toPort: 443, ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }] } }]);
      expect(evaluate(event).kind).toBe('violation');
    });

    it('counts udp too', () => {
      const event = authorizeEvent([{ ipProtocol: 'udp', fromPort: 161, toPort: 161, ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }] } }]);
      expect(evaluate(event).kind).toBe('violation');
    });

    it('ignores security-group references, prefix lists, private space and narrow public ranges', () => {
      expect(evaluate(loadEvent('ec2/AuthorizeSecurityGroupIngress-group-reference-compliant.json')).kind).toBe('compliant');
      expect(evaluate(loadEvent('ec2/AuthorizeSecurityGroupIngress-private-postgres-compliant.json')).kind).toBe('compliant');
      expect(evaluate(loadEvent('ec2/AuthorizeSecurityGroupIngress-string-ports-office-ssh-compliant.json')).kind).toBe('compliant');
      const prefixList = authorizeEvent([{ ipProtocol: 'tcp', fromPort: 22, toPort: 22, prefixListIds: { items: [{ prefixListId: 'pl-12345678' }] } }]);
      expect(evaluate(prefixList).kind).toBe('compliant');
    });

    it('reads ports sent as strings by data-lake exports', () => {
      const event = authorizeEvent([{ ipProtocol: 'tcp', fromPort: '3306', toPort: '3306', ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }] } }]);
      expect(verdict(event).plan[0]?.input).toStrictEqual({
        GroupId: GROUP,
        IpPermissions: [{ IpProtocol: 'tcp', FromPort: 3306, ToPort: 3306, IpRanges: [{ CidrIp: '0.0.0.0/0' }] }],
      });
    });

    it('honours configured allowed ports and prefix thresholds', () => {
      const event = authorizeEvent([{ ipProtocol: 'tcp', fromPort: 22, toPort: 22, ipRanges: { items: [{ cidrIp: '3.0.0.0/8' }] } }]);
      expect(evaluate(event).kind).toBe('compliant');
      expect(evaluate(event, { config: { rules: { 'sg-open-ingress': { ipv4MinPrefix: 16 } } } }).kind).toBe('violation');
      const world = authorizeEvent([{ ipProtocol: 'tcp', fromPort: 22, toPort: 22, ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }] } }]);
      expect(evaluate(world, { config: { rules: { 'sg-open-ingress': { allowedPorts: ['tcp/22'] } } } }).kind).toBe('compliant');
    });

    it('gives an exempt verdict, with the tag value as reason and what the exemption let through, when the group carries the exemption tag', () => {
      const facts: Facts = { securityGroup: { status: 'ok', value: { tags: { 'remediation:exempt': 'bastion, ticket SEC-42' } } } };
      const result = evaluate(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), { facts });
      expect(result).toStrictEqual({
        kind: 'exempt',
        reason: `${GROUP} is tagged remediation:exempt: bastion, ticket SEC-42`,
        resources: [GROUP],
        findings: [
          {
            code: 'forbidden-port-open',
            severity: 'high',
            message: 'tcp/22 open to 0.0.0.0/0 (the whole internet) includes ports outside the allowed list (22/ssh).',
            subject: 'sgr-0f1e2d3c4b5a69788 tcp/22 from 0.0.0.0/0',
          },
        ],
      });
    });

    it('uses the configured exemption tag key', () => {
      const facts: Facts = { securityGroup: { status: 'ok', value: { tags: { 'remediation:exempt': 'x' } } } };
      const result = evaluate(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), { facts, config: { exemptionTagKey: 'secops/allow' } });
      expect(result.kind).toBe('violation');
    });

    it('still reports the violation when the group facts are unavailable: it never guesses a pass', () => {
      const facts: Facts = { securityGroup: { status: 'unavailable', reason: 'offline' } };
      expect(evaluate(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), { facts }).kind).toBe('violation');
    });

    it('still plans the revoke for a group that is gone since the event: the read before the revoke reports it, with the evidence', () => {
      const facts: Facts = { securityGroup: { status: 'ok', value: null } };
      const result = evaluate(loadEvent('ec2/AuthorizeSecurityGroupIngress-world-ssh-ruleids.json'), { facts });
      expect(result.kind === 'violation' && result.plan.map((step) => step.precondition?.description)).toStrictEqual([
        'sgr-0f1e2d3c4b5a69788 still allows 0.0.0.0/0 on tcp/22',
      ]);
    });

    it('skips an event that names no group, and never plans a call for it', () => {
      const event = authorizeEvent([]);
      event.detail.requestParameters = { ipPermissions: { items: [{ ipProtocol: '-1', ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }] } }] } };
      expect(evaluate(event)).toStrictEqual({ kind: 'skipped', reason: 'the event names no security group' });
    });

    it('gives the same plan when the same event is evaluated twice', () => {
      const event = loadEvent('ec2/AuthorizeSecurityGroupIngress-mixed-ssh-https-postgres-ruleids.json');
      expect(evaluate(event)).toStrictEqual(evaluate(structuredClone(event)));
      // The same object again (its ranges are read once per event), then with its request and response replaced.
      expect(evaluate(event)).toStrictEqual(evaluate(structuredClone(event)));
      const narrowed = authorizeEvent([{ ipProtocol: 'tcp', fromPort: 443, toPort: 443, ipRanges: { items: [{ cidrIp: '0.0.0.0/0' }] } }]);
      event.detail.requestParameters = narrowed.detail.requestParameters;
      event.detail.responseElements = narrowed.detail.responseElements;
      expect(evaluate(event)).toStrictEqual(evaluate(structuredClone(event)));
      expect(evaluate(event).kind).toBe('compliant');
    });
  });
});

function verdict(event: CloudTrailEvent): Extract<Verdict, { kind: 'violation' }> {
  const result = evaluate(event);
  if (result.kind !== 'violation') throw new Error(`expected a violation, got ${result.kind}`);
  return result;
}
