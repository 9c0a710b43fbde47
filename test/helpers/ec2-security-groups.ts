/**
 * A small stateful stand-in for the EC2 security group APIs the bot uses,
 * behind aws-sdk-client-mock: rules that `DescribeSecurityGroupRules` and
 * `DescribeSecurityGroups` read and `RevokeSecurityGroupIngress` removes, with
 * the answers and error codes EC2 documents:
 * - an unknown rule id in a describe or a revoke by id fails the whole call
 *   with `InvalidSecurityGroupRuleId.NotFound` and revokes nothing;
 * - a revoke by `IpPermissions` that matches nothing fails with
 *   `InvalidPermission.NotFound` in a non-default VPC, and in a default VPC
 *   succeeds with the unmatched permissions in `UnknownIpPermissions`.
 * Tests change the state between the event and the bot's run (a person
 * revoking or editing a rule) and assert on the calls the bot made.
 */
import {
  DescribeSecurityGroupRulesCommand,
  DescribeSecurityGroupsCommand,
  EC2Client,
  EC2ServiceException,
  RevokeSecurityGroupIngressCommand,
  type SecurityGroupRule,
} from '@aws-sdk/client-ec2';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';

export function ec2Error(name: string): EC2ServiceException {
  return new EC2ServiceException({ name, $fault: 'client', $metadata: { httpStatusCode: 400 }, message: `${name} (test)` });
}

export interface GroupState {
  readonly groupId: string;
  readonly groupName?: string;
  readonly defaultVpc?: boolean;
  readonly tags?: { Key: string; Value: string }[];
  /** Rules by id; tests edit them to simulate changes made after the event. */
  readonly rules: Map<string, SecurityGroupRule>;
}

export function ingressRule(groupId: string, id: string, protocol: string, from: number, to: number, cidr: string): SecurityGroupRule {
  return {
    SecurityGroupRuleId: id,
    GroupId: groupId,
    IsEgress: false,
    IpProtocol: protocol,
    FromPort: from,
    ToPort: to,
    ...(cidr.includes(':') ? { CidrIpv6: cidr } : { CidrIpv4: cidr }),
  };
}

type Permission = { IpProtocol?: string; FromPort?: number; ToPort?: number; IpRanges?: { CidrIp?: string }[]; Ipv6Ranges?: { CidrIpv6?: string }[] };

function matches(rule: SecurityGroupRule, permission: Permission, cidr: string): boolean {
  return (
    rule.IsEgress !== true &&
    rule.IpProtocol === permission.IpProtocol &&
    (permission.IpProtocol === '-1' || (rule.FromPort === permission.FromPort && rule.ToPort === permission.ToPort)) &&
    (rule.CidrIpv4 ?? rule.CidrIpv6) === cidr
  );
}

/** Installs the stand-in on a fresh EC2 mock and returns it with the state it serves. */
export function fakeSecurityGroups(groups: readonly GroupState[]): { ec2: AwsClientStub<EC2Client>; groups: readonly GroupState[] } {
  const ec2 = mockClient(EC2Client);
  ec2.reset();
  const allRules = () => groups.flatMap((group) => [...group.rules.values()]);
  const groupOf = (input: { GroupId?: string; GroupName?: string }) => groups.find((g) => (input.GroupId ? g.groupId === input.GroupId : g.groupName === input.GroupName));

  ec2.on(DescribeSecurityGroupRulesCommand).callsFake((input: { SecurityGroupRuleIds?: string[] }) => {
    const ids = input.SecurityGroupRuleIds ?? [];
    const found = ids.map((id) => allRules().find((rule) => rule.SecurityGroupRuleId === id));
    if (found.some((rule) => rule === undefined)) throw ec2Error('InvalidSecurityGroupRuleId.NotFound');
    return { SecurityGroupRules: structuredClone(found) };
  });

  ec2.on(DescribeSecurityGroupsCommand).callsFake((input: { GroupIds?: string[]; GroupNames?: string[] }) => {
    const wanted = groups.filter((g) => input.GroupIds?.includes(g.groupId) || (g.groupName !== undefined && input.GroupNames?.includes(g.groupName)));
    if (wanted.length === 0) throw ec2Error(input.GroupIds ? 'InvalidGroup.NotFound' : 'InvalidGroup.NotFound');
    return {
      SecurityGroups: wanted.map((group) => ({
        GroupId: group.groupId,
        GroupName: group.groupName,
        Tags: group.tags ?? [],
        IpPermissions: [...group.rules.values()]
          .filter((rule) => rule.IsEgress !== true)
          .map((rule) => ({
            IpProtocol: rule.IpProtocol,
            ...(rule.IpProtocol === '-1' ? {} : { FromPort: rule.FromPort, ToPort: rule.ToPort }),
            IpRanges: rule.CidrIpv4 ? [{ CidrIp: rule.CidrIpv4 }] : [],
            Ipv6Ranges: rule.CidrIpv6 ? [{ CidrIpv6: rule.CidrIpv6 }] : [],
          })),
      })),
    };
  });

  ec2.on(RevokeSecurityGroupIngressCommand).callsFake((input: { GroupId?: string; GroupName?: string; SecurityGroupRuleIds?: string[]; IpPermissions?: Permission[] }) => {
    const group = groupOf(input);
    if (!group) throw ec2Error('InvalidGroup.NotFound');
    if (input.SecurityGroupRuleIds) {
      if (input.SecurityGroupRuleIds.some((id) => !group.rules.has(id))) throw ec2Error('InvalidSecurityGroupRuleId.NotFound');
      const revoked = input.SecurityGroupRuleIds.map((id) => group.rules.get(id));
      for (const id of input.SecurityGroupRuleIds) group.rules.delete(id);
      return { Return: true, RevokedSecurityGroupRules: revoked.map((rule) => ({ SecurityGroupRuleId: rule?.SecurityGroupRuleId, GroupId: group.groupId })) };
    }
    const unknown: Permission[] = [];
    const matched: string[] = [];
    for (const permission of input.IpPermissions ?? []) {
      for (const cidr of [...(permission.IpRanges ?? []).map((r) => r.CidrIp), ...(permission.Ipv6Ranges ?? []).map((r) => r.CidrIpv6)]) {
        const rule = [...group.rules.values()].find((candidate) => cidr !== undefined && matches(candidate, permission, cidr));
        if (rule?.SecurityGroupRuleId) matched.push(rule.SecurityGroupRuleId);
        else unknown.push(permission);
      }
    }
    // Outside a default VPC, values that match nothing revoke nothing at all.
    if (unknown.length > 0 && !group.defaultVpc) throw ec2Error('InvalidPermission.NotFound');
    for (const id of matched) group.rules.delete(id);
    return { Return: true, ...(unknown.length > 0 ? { UnknownIpPermissions: unknown } : {}) };
  });
  return { ec2, groups };
}
