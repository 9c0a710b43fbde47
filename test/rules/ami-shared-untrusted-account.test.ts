import { DescribeImageAttributeCommand, EC2Client, ModifyImageAttributeCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../engine/config.js';
import { loadEvent } from '../helpers/fixtures.js';
import { sharingHarness } from '../helpers/ebs-sharing.js';

const ec2 = mockClient(EC2Client);
const { rule, evaluate, planOf, sharingChecks, imagePermissions, run, inputs } = sharingHarness('ami-shared-untrusted-account', 'image', ec2);

const SHARED_IMAGE = 'ami-0a1b2c3d4e5f60002';

describe('ami-shared-untrusted-account', () => {
  it('notifies by default and would remove exactly the untrusted account of the genuine Stratus record', () => {
    expect(parseConfig({}, [rule]).rules['ami-shared-untrusted-account']?.mode).toBe('notify');
    const plan = planOf(loadEvent('ec2/ModifyImageAttribute-stratus-genuine-share-one-account.json'));
    expect(plan).toStrictEqual([
      {
        service: 'ec2',
        operation: 'ModifyImageAttribute',
        input: { ImageId: 'ami-de1fbCab6ccB03e6D', LaunchPermission: { Remove: [{ UserId: '846424999548' }] } },
        reason: 'Stop sharing ami-de1fbCab6ccB03e6D with 846424999548: remove only that account from launchPermission. Trusted accounts stay.',
        undo: {
          service: 'ec2',
          operation: 'ModifyImageAttribute',
          input: { ImageId: 'ami-de1fbCab6ccB03e6D', LaunchPermission: { Add: [{ UserId: '846424999548' }] } },
          reason: 'Share ami-de1fbCab6ccB03e6D with 846424999548 again.',
        },
        alreadyDoneCodes: ['InvalidAMIID.NotFound', 'InvalidAMIID.Unavailable'],
        ...sharingChecks('ami-de1fbCab6ccB03e6D', { userId: '846424999548' }),
      },
    ]);
  });

  it('does not flag organization shares or trusted accounts', () => {
    const event = loadEvent('ec2/ModifyImageAttribute-shared-one-account.json');
    expect(evaluate(event, { config: { trustedAccounts: ['444455556666'] } }).kind).toBe('compliant');
    event.detail.requestParameters = {
      imageId: SHARED_IMAGE,
      attributeType: 'launchPermission',
      launchPermission: { add: { items: [{ organizationArn: 'arn:aws:organizations::111122223333:organization/o-exampleorgid' }] } },
    };
    expect(evaluate(event).kind).toBe('compliant');
  });

  it('removes the account once and reads DescribeImageAttribute before and after; a re-run is "already fixed"', async () => {
    ec2.reset();
    imagePermissions(SHARED_IMAGE, [{ UserId: '444455556666' }]);
    const plan = planOf(loadEvent('ec2/ModifyImageAttribute-shared-one-account.json'));
    const first = await run(plan);
    const second = await run(plan);
    expect([first.status, second.status]).toStrictEqual(['applied', 'already-fixed']);
    expect(inputs(ModifyImageAttributeCommand)).toStrictEqual([{ ImageId: SHARED_IMAGE, LaunchPermission: { Remove: [{ UserId: '444455556666' }] } }]);
    expect(inputs(DescribeImageAttributeCommand)).toHaveLength(3);
  });
});
