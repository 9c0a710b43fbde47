import { describe, expect, it } from 'vitest';
import { compilePattern, matchesPattern, PatternError, validatePattern, type EventPattern } from '../engine/pattern-match.js';

interface Case {
  readonly name: string;
  readonly pattern: EventPattern;
  readonly event: unknown;
  readonly expected: boolean;
}

function runCases(cases: readonly Case[]): void {
  it.each(cases)('$name', ({ pattern, event, expected }) => {
    const matched = matchesPattern(pattern, event);

    expect(matched).toBe(expected);
  });
}

/** The EC2 state-change event used throughout the EventBridge user guide. */
const ec2StateChange = {
  version: '0',
  id: '6a7e8feb-b491-4cf7-a9f1-bf3703467718',
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  account: '111122223333',
  time: '2017-12-22T18:43:48Z',
  region: 'us-west-1',
  resources: ['arn:aws:ec2:us-west-1:123456789012:instance/i-1234567890abcdef0'],
  detail: { 'instance-id': 'i-1234567890abcdef0', state: 'terminated' },
};

/** The event the event-ruler README and the content filtering page match against. */
const rulerEvent = {
  'detail-type': 'EC2 Instance State-change Notification',
  source: 'aws.ec2',
  time: '2017-10-02T16:24:49Z',
  region: 'us-east-1',
  resources: ['arn:aws:ec2:us-east-1:123456789012:instance/i-000000aaaaaa00000'],
  detail: {
    'c-count': 5,
    'd-count': 3,
    'x-limit': 301.8,
    'source-ip': '10.0.0.33',
    'instance-id': 'i-000000aaaaaa00000',
    state: 'running',
  },
};

function withDetail(detail: Record<string, unknown>): Record<string, unknown> {
  return { ...rulerEvent, detail };
}

describe('matchesPattern', () => {
  // Doc: "Amazon EventBridge event patterns" (user guide), sections "Create event patterns",
  // "Match values", "Field matching" and "Value matching".
  describe('exact values', () => {
    const terminated = {
      source: ['aws.ec2'],
      'detail-type': ['EC2 Instance State-change Notification'],
      detail: { state: ['terminated'] },
    };
    const macie = {
      source: 'aws.macie',
      'detail-type': 'Macie Alert',
      detail: { 'notification-type': 'ALERT_CREATED', 'risk-score': 80, trigger: { 'alert-type': 'basic', risk: 8 } },
    };
    const macieRisk = { source: ['aws.macie'], 'detail-type': ['Macie Alert'], detail: { 'risk-score': [80], trigger: { risk: [8] } } };

    runCases([
      { name: 'matches the EC2 termination event on source, detail-type and detail.state', pattern: terminated, event: ec2StateChange, expected: true },
      {
        name: 'does not match when detail.state differs',
        pattern: terminated,
        event: { ...ec2StateChange, detail: { state: 'running' } },
        expected: false,
      },
      { name: 'matches any of several values (aws.ec2 or aws.fargate)', pattern: { source: ['aws.ec2', 'aws.fargate'] }, event: ec2StateChange, expected: true },
      { name: 'is case-sensitive for strings', pattern: { source: ['AWS.EC2'] }, event: ec2StateChange, expected: false },
      { name: 'requires every named field to be present', pattern: { source: ['aws.ec2'], detail: { reason: ['x'] } }, event: ec2StateChange, expected: false },
      { name: 'requires the same nesting structure', pattern: { state: ['terminated'] }, event: ec2StateChange, expected: false },
      { name: 'matches numbers, including in nested objects (Macie risk score)', pattern: macieRisk, event: macie, expected: true },
      {
        name: 'does not match a different number',
        pattern: macieRisk,
        event: { ...macie, detail: { ...macie.detail, trigger: { risk: 7 } } },
        expected: false,
      },
      { name: 'never equals a string to a number ("80" vs 80)', pattern: { detail: { 'risk-score': ['80'] } }, event: macie, expected: false },
      { name: 'never equals a number to a string (80 vs "80")', pattern: { detail: { id: [80] } }, event: { detail: { id: '80' } }, expected: false },
      { name: 'compares numbers numerically (300 vs 300.0)', pattern: { number: [300] }, event: JSON.parse('{"number": 300.0}'), expected: true },
      { name: 'matches booleans', pattern: { detail: { readOnly: [false] } }, event: { detail: { readOnly: false } }, expected: true },
      { name: 'does not equate true and "true"', pattern: { detail: { readOnly: ['true'] } }, event: { detail: { readOnly: true } }, expected: false },
      { name: 'does not match a non-object event', pattern: { source: ['aws.ec2'] }, event: 'aws.ec2', expected: false },
    ]);
  });

  // Doc: "Arrays in Amazon EventBridge event patterns" (user guide); array-of-objects
  // consistency from "JSON Array Matching" in the aws/event-ruler README.
  describe('arrays in events', () => {
    const resourcesPattern = {
      resources: [
        'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f',
        'arn:aws:ec2:us-east-1:111122223333:instance/i-b188560f',
        'arn:aws:ec2:us-east-1:444455556666:instance/i-b188560f',
      ],
    };
    const employees = {
      employees: [
        { firstName: 'John', lastName: 'Doe' },
        { firstName: 'Anna', lastName: 'Smith' },
        { firstName: 'Peter', lastName: 'Jones' },
      ],
    };

    runCases([
      {
        name: 'matches when the pattern array and the event array intersect',
        pattern: resourcesPattern,
        event: {
          resources: [
            'arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:eb56d16b-bbf0-401d-b893-d5978ed4a025:autoScalingGroupName/ASGTerminate',
            'arn:aws:ec2:us-east-1:123456789012:instance/i-b188560f',
          ],
        },
        expected: true,
      },
      {
        name: 'does not match when the intersection is empty',
        pattern: resourcesPattern,
        event: { resources: ['arn:aws:ec2:us-east-1:999999999999:instance/i-b188560f'] },
        expected: false,
      },
      { name: 'does not match an empty event array', pattern: resourcesPattern, event: { resources: [] }, expected: false },
      { name: 'does not match [null] against an empty array', pattern: { resources: [null] }, event: { resources: [] }, expected: false },
      { name: 'matches a field inside an array of objects', pattern: { employees: { firstName: ['Anna'] } }, event: employees, expected: true },
      {
        name: 'matches fields from the same array element',
        pattern: { employees: { firstName: ['Anna'], lastName: ['Smith'] } },
        event: employees,
        expected: true,
      },
      {
        name: 'does not combine fields from different array elements',
        pattern: { employees: { firstName: ['Anna'], lastName: ['Jones'] } },
        event: employees,
        expected: false,
      },
      {
        name: 'matches through multi-level arrays',
        pattern: { employees: { firstName: ['Peter'] } },
        event: { employees: [[{ firstName: 'John' }, { firstName: 'Anna' }], [{ firstName: 'Peter' }]] },
        expected: true,
      },
    ]);
  });

  // Doc: "Matching null values and empty strings in Amazon EventBridge event patterns" (user guide).
  describe('null and empty strings', () => {
    const launch = {
      version: '0',
      'detail-type': 'EC2 Instance Launch Successful',
      source: 'aws.autoscaling',
      resources: [],
      detail: { eventVersion: '', responseElements: null },
    };

    runCases([
      { name: 'matches an empty string', pattern: { detail: { eventVersion: [''] } }, event: launch, expected: true },
      { name: 'matches a null value', pattern: { detail: { responseElements: [null] } }, event: launch, expected: true },
      { name: 'does not match null with an empty string', pattern: { detail: { responseElements: [''] } }, event: launch, expected: false },
      { name: 'does not match an empty string with null', pattern: { detail: { eventVersion: [null] } }, event: launch, expected: false },
      { name: 'does not match a missing field with null', pattern: { detail: { errorCode: [null] } }, event: launch, expected: false },
    ]);
  });

  // Doc: "Content filtering in Amazon EventBridge event patterns" (user guide), "Prefix matching"
  // and "Prefix matching while ignoring case".
  describe('prefix', () => {
    runCases([
      { name: 'matches a time starting with 2017-10-02', pattern: { time: [{ prefix: '2017-10-02' }] }, event: rulerEvent, expected: true },
      { name: 'does not match another day', pattern: { time: [{ prefix: '2017-10-03' }] }, event: rulerEvent, expected: false },
      {
        name: 'matches Auto Scaling events from European regions',
        pattern: { source: ['aws.autoscaling'], region: [{ prefix: 'eu-' }] },
        event: { source: 'aws.autoscaling', region: 'eu-west-1' },
        expected: true,
      },
      { name: 'only works on strings', pattern: { detail: { 'c-count': [{ prefix: '5' }] } }, event: rulerEvent, expected: false },
      {
        name: 'ignores case with equals-ignore-case (EventB vs EVENTB)',
        pattern: { detail: { service: [{ prefix: { 'equals-ignore-case': 'EventB' } }] } },
        event: { detail: { service: 'EVENTBRIDGE' } },
        expected: true,
      },
      {
        name: 'ignoring case still requires the prefix',
        pattern: { detail: { service: [{ prefix: { 'equals-ignore-case': 'EventB' } }] } },
        event: { detail: { service: 'Events' } },
        expected: false,
      },
    ]);
  });

  // Doc: "Content filtering in Amazon EventBridge event patterns" (user guide), "Suffix matching"
  // and "Suffix matching while ignoring case".
  describe('suffix', () => {
    runCases([
      { name: 'matches a FileName ending in .png', pattern: { FileName: [{ suffix: '.png' }] }, event: { FileName: 'photo.png' }, expected: true },
      { name: 'does not match another extension', pattern: { FileName: [{ suffix: '.png' }] }, event: { FileName: 'photo.jpg' }, expected: false },
      { name: 'is case-sensitive by default', pattern: { FileName: [{ suffix: '.png' }] }, event: { FileName: 'PHOTO.PNG' }, expected: false },
      {
        name: 'ignores case with equals-ignore-case (.png vs .PNG)',
        pattern: { detail: { FileName: [{ suffix: { 'equals-ignore-case': '.png' } }] } },
        event: { detail: { FileName: 'PHOTO.PNG' } },
        expected: true,
      },
    ]);
  });

  // Doc: "Content filtering in Amazon EventBridge event patterns" (user guide), "Equals-ignore-case matching".
  describe('equals-ignore-case', () => {
    runCases([
      { name: 'matches Alice for alice', pattern: { Name: [{ 'equals-ignore-case': 'alice' }] }, event: { Name: 'Alice' }, expected: true },
      {
        name: 'matches the detail-type regardless of case',
        pattern: { 'detail-type': [{ 'equals-ignore-case': 'ec2 instance state-change notification' }] },
        event: rulerEvent,
        expected: true,
      },
      { name: 'does not match a different name', pattern: { Name: [{ 'equals-ignore-case': 'alice' }] }, event: { Name: 'Alicia' }, expected: false },
      { name: 'only works on strings', pattern: { n: [{ 'equals-ignore-case': '5' }] }, event: { n: 5 }, expected: false },
      { name: 'folds non-ASCII letters too', pattern: { city: [{ 'equals-ignore-case': 'ZÜRICH' }] }, event: { city: 'zürich' }, expected: true },
    ]);
  });

  // Doc: "Content filtering in Amazon EventBridge event patterns" (user guide), "Wildcard matching";
  // AWS Compute Blog "Filtering events in Amazon EventBridge with wildcard pattern matching".
  describe('wildcard', () => {
    runCases([
      { name: 'matches *.png', pattern: { key: [{ wildcard: '*.png' }] }, event: { key: 'dir/file.png' }, expected: true },
      { name: 'matches a term in the middle (*Title*)', pattern: { key: [{ wildcard: '*Title*' }] }, event: { key: 'A Title Here' }, expected: true },
      { name: 'matches Simple*Service', pattern: { source: [{ wildcard: 'Simple*Service' }] }, event: { source: 'SimpleQueueService' }, expected: true },
      { name: '* matches zero characters', pattern: { source: [{ wildcard: 'Simple*Service' }] }, event: { source: 'SimpleService' }, expected: true },
      {
        name: 'matches several wildcards in order',
        pattern: { key: [{ wildcard: 'dir/*/data/*.csv' }] },
        event: { key: 'dir/2024/01/data/XYZ.csv' },
        expected: true,
      },
      { name: 'does not match when a fixed part is missing', pattern: { key: [{ wildcard: 'dir/*/data/*.csv' }] }, event: { key: 'dir/2024/XYZ.csv' }, expected: false },
      { name: 'is case-sensitive', pattern: { key: [{ wildcard: '*.png' }] }, event: { key: 'FILE.PNG' }, expected: false },
      { name: 'needs each fixed part to occur separately (*ab*ab*)', pattern: { key: [{ wildcard: '*ab*ab*' }] }, event: { key: 'xaby' }, expected: false },
      { name: 'finds repeated fixed parts in order (*ab*ab*)', pattern: { key: [{ wildcard: '*ab*ab*' }] }, event: { key: 'abab' }, expected: true },
      { name: 'matches a literal asterisk with \\*', pattern: { key: [{ wildcard: 'a\\*b' }] }, event: { key: 'a*b' }, expected: true },
      { name: 'an escaped asterisk is not a wildcard', pattern: { key: [{ wildcard: 'a\\*b' }] }, event: { key: 'axxb' }, expected: false },
      { name: 'matches a literal backslash with \\\\', pattern: { key: [{ wildcard: 'C:\\\\*' }] }, event: { key: 'C:\\temp' }, expected: true },
      { name: 'only works on strings', pattern: { n: [{ wildcard: '*' }] }, event: { n: 5 }, expected: false },
    ]);
  });

  // Doc: "Content filtering in Amazon EventBridge event patterns" (user guide), "Anything-but matching"
  // and its prefix, suffix, ignore-case and wildcard variants.
  describe('anything-but', () => {
    runCases([
      { name: 'matches a state other than initializing', pattern: { detail: { state: [{ 'anything-but': 'initializing' }] } }, event: rulerEvent, expected: true },
      {
        name: 'does not match the excluded state',
        pattern: { detail: { state: [{ 'anything-but': 'initializing' }] } },
        event: withDetail({ state: 'initializing' }),
        expected: false,
      },
      { name: 'matches a number other than 123', pattern: { detail: { 'x-limit': [{ 'anything-but': 123 }] } }, event: rulerEvent, expected: true },
      {
        name: 'excludes a list of strings',
        pattern: { detail: { state: [{ 'anything-but': ['stopped', 'overloaded'] }] } },
        event: withDetail({ state: 'overloaded' }),
        expected: false,
      },
      {
        name: 'excludes a list of numbers',
        pattern: { detail: { 'x-limit': [{ 'anything-but': [100, 200, 300] }] } },
        event: withDetail({ 'x-limit': 200 }),
        expected: false,
      },
      { name: 'passes a number not in the list', pattern: { detail: { 'x-limit': [{ 'anything-but': [100, 200, 300] }] } }, event: rulerEvent, expected: true },
      {
        name: 'excludes a prefix (init)',
        pattern: { detail: { state: [{ 'anything-but': { prefix: 'init' } }] } },
        event: withDetail({ state: 'initializing' }),
        expected: false,
      },
      {
        name: 'selects non-AWS sources with anything-but prefix aws.',
        pattern: { source: [{ 'anything-but': { prefix: 'aws.' } }] },
        event: { source: 'com.mycompany.orders' },
        expected: true,
      },
      {
        name: 'excludes a suffix (.png)',
        pattern: { FileName: [{ 'anything-but': { suffix: '.png' } }] },
        event: { FileName: 'image.png' },
        expected: false,
      },
      {
        name: 'excludes every casing with equals-ignore-case',
        pattern: { state: [{ 'anything-but': { 'equals-ignore-case': 'initializing' } }] },
        event: { state: 'INITIALIZING' },
        expected: false,
      },
      {
        name: 'excludes any of a list with equals-ignore-case',
        pattern: { state: [{ 'anything-but': { 'equals-ignore-case': ['initializing', 'stopped'] } }] },
        event: { state: 'Stopped' },
        expected: false,
      },
      {
        name: 'excludes paths containing /lib/ with a wildcard',
        pattern: { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] },
        event: { FilePath: '/usr/lib/libc.so' },
        expected: false,
      },
      {
        name: 'passes paths outside /lib/ with a wildcard',
        pattern: { FilePath: [{ 'anything-but': { wildcard: '*/lib/*' } }] },
        event: { FilePath: '/usr/bin/env' },
        expected: true,
      },
      { name: 'does not match a missing field', pattern: { detail: { state: [{ 'anything-but': 'initializing' }] } }, event: withDetail({}), expected: false },
      { name: 'matches a null value', pattern: { detail: { command: [{ 'anything-but': ['no-message'] }] } }, event: { detail: { command: null } }, expected: true },
      {
        name: 'matches an event array when any element is not excluded',
        pattern: { source: [{ 'anything-but': ['aws.ec2', 'aws.s3'] }] },
        event: { source: ['aws.ec2', 'aws.iam'] },
        expected: true,
      },
      {
        name: 'does not match an event array whose elements are all excluded',
        pattern: { source: [{ 'anything-but': ['aws.ec2', 'aws.s3'] }] },
        event: { source: ['aws.ec2', 'aws.s3'] },
        expected: false,
      },
    ]);
  });

  // Doc: "Content filtering in Amazon EventBridge event patterns" (user guide), "Numeric matching".
  describe('numeric', () => {
    const counts = {
      detail: {
        'c-count': [{ numeric: ['>', 0, '<=', 5] }],
        'd-count': [{ numeric: ['<', 10] }],
        'x-limit': [{ numeric: ['=', 3.018e2] }],
      },
    };

    runCases([
      { name: 'matches when every numeric field is in range', pattern: counts, event: rulerEvent, expected: true },
      { name: 'includes the closed upper bound (c-count 5 <= 5)', pattern: { detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] } }, event: rulerEvent, expected: true },
      {
        name: 'excludes the open lower bound (c-count 0 > 0)',
        pattern: { detail: { 'c-count': [{ numeric: ['>', 0, '<=', 5] }] } },
        event: withDetail({ 'c-count': 0 }),
        expected: false,
      },
      { name: 'fails when one field is out of range', pattern: counts, event: withDetail({ ...rulerEvent.detail, 'd-count': 10 }), expected: false },
      { name: 'matches >= on the bound', pattern: { n: [{ numeric: ['>=', 10] }] }, event: { n: 10 }, expected: true },
      { name: 'matches floats against an integer bound (101.0 > 100)', pattern: { number: [{ numeric: ['>', 100] }] }, event: { number: 101.0 }, expected: true },
      { name: 'only works on JSON numbers, not numeric strings', pattern: { n: [{ numeric: ['>', 0] }] }, event: { n: '5' }, expected: false },
      { name: 'does not match null', pattern: { n: [{ numeric: ['>', 0] }] }, event: { n: null }, expected: false },
      { name: 'matches any element of a numeric array', pattern: { n: [{ numeric: ['<', 0] }] }, event: { n: [3, -1] }, expected: true },
    ]);
  });

  // Doc: "Content filtering in Amazon EventBridge event patterns" (user guide), "IP address matching".
  describe('cidr', () => {
    const v4 = { detail: { sourceIPAddress: [{ cidr: '10.0.0.0/24' }] } };
    const v6 = { detail: { sourceIPAddress: [{ cidr: '2001:db8:1234:1a00::/64' }] } };

    runCases([
      { name: 'matches an IPv4 address in 10.0.0.0/24', pattern: v4, event: { detail: { sourceIPAddress: '10.0.0.33' } }, expected: true },
      { name: 'matches the last address of the block', pattern: v4, event: { detail: { sourceIPAddress: '10.0.0.255' } }, expected: true },
      { name: 'does not match outside the block', pattern: v4, event: { detail: { sourceIPAddress: '10.0.1.1' } }, expected: false },
      { name: 'does not match a non-IP string', pattern: v4, event: { detail: { sourceIPAddress: 'ec2.amazonaws.com' } }, expected: false },
      {
        name: 'matches an IPv6 address in 2001:db8:1234:1a00::/64',
        pattern: v6,
        event: { detail: { sourceIPAddress: '2001:0db8:1234:1a00:0000:0000:0000:0000' } },
        expected: true,
      },
      { name: 'matches a compressed IPv6 address in the block', pattern: v6, event: { detail: { sourceIPAddress: '2001:db8:1234:1a00::42' } }, expected: true },
      { name: 'does not match an IPv6 address outside the block', pattern: v6, event: { detail: { sourceIPAddress: '2001:db8:1234:1b00::1' } }, expected: false },
      { name: 'does not match an IPv4 address against an IPv6 block', pattern: v6, event: { detail: { sourceIPAddress: '10.0.0.1' } }, expected: false },
      {
        name: 'parses each element of an address array afresh (:: after a full address)',
        pattern: { ips: [{ cidr: '::/120' }] },
        event: { ips: ['2001:db8:ffff:ffff:ffff:ffff:ffff:ffff', '::1'] },
        expected: true,
      },
    ]);
  });

  // Doc: "Content filtering in Amazon EventBridge event patterns" (user guide), "Exists matching".
  describe('exists', () => {
    runCases([
      { name: 'exists:true matches a present detail.state', pattern: { detail: { state: [{ exists: true }] } }, event: ec2StateChange, expected: true },
      {
        name: 'exists:true does not match when detail.state is absent',
        pattern: { detail: { state: [{ exists: true }] } },
        event: { detail: { 'c-count': { c1: 100 } } },
        expected: false,
      },
      { name: 'exists:true matches a null value (the field is present)', pattern: { detail: { key: [{ exists: true }] } }, event: { detail: { key: null } }, expected: true },
      { name: 'exists:false matches when detail.c-count is absent', pattern: { detail: { 'c-count': [{ exists: false }] } }, event: ec2StateChange, expected: true },
      { name: 'exists:false does not match a present leaf', pattern: { detail: { 'c-count': [{ exists: false }] } }, event: rulerEvent, expected: false },
      {
        name: 'exists:false matches when c-count is an object, not a leaf',
        pattern: { detail: { 'c-count': [{ exists: false }] } },
        event: { detail: { state: 'running', 'c-count': { c1: 100 } } },
        expected: true,
      },
      {
        name: 'exists:false matches when an intermediate object is missing',
        pattern: { detail: { level1: { level2: { level3: [{ exists: false }] } } } },
        event: { detail: { level1: { other: 'x' } } },
        expected: true,
      },
      {
        name: 'exists:false does not match a deeply nested present leaf',
        pattern: { detail: { level1: { level2: { level3: [{ exists: false }] } } } },
        event: { detail: { level1: { level2: { level3: 'l3 value' } } } },
        expected: false,
      },
      { name: 'exists:true matches a non-empty event array', pattern: { resources: [{ exists: true }] }, event: { resources: ['arn:aws:s3:::bucket'] }, expected: true },
      { name: 'exists:true does not match an empty array', pattern: { resources: [{ exists: true }] }, event: { resources: [] }, expected: false },
      {
        name: 'exists:false matches below an empty array (no leaf is present)',
        pattern: { detail: { items: { name: [{ exists: false }] } } },
        event: { detail: { items: [] } },
        expected: true,
      },
      {
        name: 'exists:false combines with anything-but as alternatives',
        pattern: { dynamodb: { NewImage: { homemade: { S: [{ 'anything-but': ['roses'] }, { exists: false }] } } } },
        event: { dynamodb: { NewImage: { purchased: { N: '789' } } } },
        expected: true,
      },
    ]);
  });

  // Doc: "$or" examples from the aws/event-ruler README ("And and Or Relationship among fields")
  // and AWS User Notifications "Filtering event rules using customized JSON event patterns".
  describe('$or', () => {
    const sourceAndMetricOrNamespace = {
      source: ['aws.cloudwatch'],
      $or: [{ metricName: ['CPUUtilization', 'ReadLatency'] }, { namespace: ['AWS/EC2', 'AWS/ES'] }],
    };
    const nestedOr = {
      source: ['aws.cloudwatch'],
      $or: [
        { metricName: ['CPUUtilization', 'ReadLatency'] },
        { metricType: ['MetricType'], namespace: ['AWS/EC2', 'AWS/ES'], $or: [{ metricId: [1234] }, { spaceId: [1000] }] },
        { scope: ['Service'] },
      ],
    };

    runCases([
      {
        name: 'matches the first branch (metricName)',
        pattern: sourceAndMetricOrNamespace,
        event: { source: 'aws.cloudwatch', metricName: 'CPUUtilization' },
        expected: true,
      },
      {
        name: 'matches the second branch (namespace)',
        pattern: sourceAndMetricOrNamespace,
        event: { source: 'aws.cloudwatch', namespace: 'AWS/ES' },
        expected: true,
      },
      {
        name: 'requires the sibling keys as well (AND with the $or)',
        pattern: sourceAndMetricOrNamespace,
        event: { source: 'aws.ec2', metricName: 'CPUUtilization' },
        expected: false,
      },
      { name: 'does not match when no branch matches', pattern: sourceAndMetricOrNamespace, event: { source: 'aws.cloudwatch', metricName: 'Other' }, expected: false },
      {
        name: 'matches a $or nested inside detail',
        pattern: { detail: { $or: [{ state: ['running'] }, { state: ['terminated'] }] } },
        event: ec2StateChange,
        expected: true,
      },
      {
        name: 'combines parallel $or at two levels (both must hold)',
        pattern: {
          $or: [{ metricName: ['CPUUtilization'] }, { namespace: ['AWS/EC2'] }],
          detail: { $or: [{ source: ['aws.cloudwatch'] }, { 'detail-type': ['CloudWatch Alarm State Change'] }] },
        },
        event: { namespace: 'AWS/EC2', detail: { source: 'other', 'detail-type': 'Other' } },
        expected: false,
      },
      {
        name: 'matches an AND inside a branch with a nested $or',
        pattern: nestedOr,
        event: { source: 'aws.cloudwatch', metricType: 'MetricType', namespace: 'AWS/EC2', spaceId: 1000 },
        expected: true,
      },
      {
        name: 'does not match when the nested $or fails',
        pattern: nestedOr,
        event: { source: 'aws.cloudwatch', metricType: 'MetricType', namespace: 'AWS/EC2', spaceId: 999 },
        expected: false,
      },
      {
        name: 'matches $or branches using operators (numeric or anything-but)',
        pattern: { detail: { $or: [{ 'c-count': [{ numeric: ['>', 10] }] }, { state: [{ 'anything-but': 'running' }] }] } },
        event: withDetail({ 'c-count': 11, state: 'running' }),
        expected: true,
      },
    ]);
  });

  // Doc: "Content filtering in Amazon EventBridge event patterns" (user guide), "Complex example
  // with multiple matching", and the event-ruler README "Complex example".
  describe('combined operators', () => {
    const complex = {
      time: [{ prefix: '2017-10-02' }],
      detail: {
        state: [{ 'anything-but': 'initializing' }],
        'c-count': [{ numeric: ['>', 0, '<=', 5] }],
        'd-count': [{ numeric: ['<', 10] }],
        'x-limit': [{ 'anything-but': [100, 200, 300] }],
        'source-ip': [{ cidr: '10.0.0.0/8' }],
      },
    };

    runCases([
      { name: 'matches when every operator holds', pattern: complex, event: rulerEvent, expected: true },
      { name: 'fails when one operator fails', pattern: complex, event: withDetail({ ...rulerEvent.detail, 'source-ip': '192.168.0.1' }), expected: false },
    ]);
  });
});

describe('compilePattern', () => {
  it('returns a predicate equivalent to matchesPattern', () => {
    const pattern = { source: ['aws.ec2'], detail: { state: ['terminated', 'stopped'] } };

    const predicate = compilePattern(pattern);

    expect([predicate(ec2StateChange), predicate(rulerEvent)]).toStrictEqual([true, false]);
  });

  it('throws for a malformed pattern before any event is seen', () => {
    const compile = () => compilePattern({ source: 'aws.ec2' });

    expect(compile).toThrow(PatternError);
  });
});

// Validation facts: "Content filtering in Amazon EventBridge event patterns" (user guide) and the
// rule compiler of aws/event-ruler (InvalidEventPatternException reasons).
describe('validatePattern', () => {
  it.each<[string, unknown]>([
    ['a leaf that is not an array', { source: 'aws.ec2' }],
    ['a leaf that is a number', { int: 42 }],
    ['an empty leaf array', { resources: [] }],
    ['an empty object', { detail: {} }],
    ['an empty pattern', {}],
    ['a nested array as a match value', { source: [['aws.ec2']] }],
    ['an unknown operator', { source: [{ contains: 'ec2' }] }],
    ['an operator in the wrong case', { my_key: [{ EXISTS: true }] }],
    ['two keys in one match expression', { source: [{ prefix: 'a', suffix: 'b' }] }],
    ['a prefix that is not a string', { time: [{ prefix: 123 }] }],
    ['a prefix list', { time: [{ prefix: ['2022-07-13'] }] }],
    ['a suffix with an unsupported inner operator', { FileName: [{ suffix: { wildcard: '*.png' } }] }],
    ['an equals-ignore-case list', { 'detail-type': [{ 'equals-ignore-case': ['ec2'] }] }],
    ['a numeric value that is not an array', { n: [{ numeric: '>' }] }],
    ['a numeric expression with a missing operand', { detail: { 'c-count': [{ numeric: ['>', 0, '<'] }] } }],
    ['a numeric range with two lower bounds', { detail: { 'c-count': [{ numeric: ['>', 0, '>', 0] }] } }],
    ['a numeric range with the bounds reversed', { n: [{ numeric: ['>', 10, '<', 5] }] }],
    ['an unknown numeric operator', { n: [{ numeric: ['!=', 5] }] }],
    ['a string numeric operand', { n: [{ numeric: ['>', '5'] }] }],
    ['too many numeric terms', { n: [{ numeric: ['=', 5, '<', 6] }] }],
    ['exists that is not a boolean', { n: [{ exists: 'yes' }] }],
    ['a cidr without a mask', { ip: [{ cidr: '10.0.0.1' }] }],
    ['a cidr with a non-integer mask', { ip: [{ cidr: 'bad-/64filter' }] }],
    ['a cidr with a bad IPv4 address', { ip: [{ cidr: 'xx.11.xx/24' }] }],
    ['a cidr with a bad IPv6 address', { ip: [{ cidr: 'xxxx:db8:1234:1a00::/64' }] }],
    ['an IPv4 cidr mask above 32', { ip: [{ cidr: '10.0.0.0/33' }] }],
    ['a cidr that is not a string', { ip: [{ cidr: ['10.0.0.0/24'] }] }],
    ['consecutive wildcard characters', { arn: [{ wildcard: 'arn:aws:events:us-east-1:**:event-bus/*' }] }],
    ['an invalid wildcard escape', { key: [{ wildcard: 'a\\b' }] }],
    ['a wildcard that is not a string', { arn: [{ wildcard: 123 }] }],
    ['an anything-but list mixing strings and numbers', { state: [{ 'anything-but': ['a', 1] }] }],
    ['an anything-but null', { state: [{ 'anything-but': null }] }],
    ['an anything-but prefix that is a number', { state: [{ 'anything-but': { prefix: 123 } }] }],
    ['an empty anything-but prefix', { state: [{ 'anything-but': { prefix: '' } }] }],
    ['an anything-but prefix with equals-ignore-case inside', { f: [{ 'anything-but': { prefix: { 'equals-ignore-case': 'file' } } }] }],
    ['an anything-but equals-ignore-case number', { state: [{ 'anything-but': { 'equals-ignore-case': 123 } }] }],
    ['an unsupported anything-but operator', { state: [{ 'anything-but': { numeric: ['>', 1] } }] }],
    ['$or that is not an array', { $or: { source: ['aws.ec2'] } }],
    ['$or with a single branch', { $or: [{ source: ['aws.ec2'] }] }],
    ['$or with a non-object branch', { $or: [{ source: ['aws.ec2'] }, 'aws.s3'] }],
    ['an operator used as a field name inside $or', { $or: [{ numeric: [123] }, { prefix: ['abc'] }] }],
  ])('throws PatternError for %s', (_name, pattern) => {
    const validate = () => validatePattern(pattern as EventPattern);

    expect(validate).toThrow(PatternError);
  });

  it('names the error PatternError and points at the offending path', () => {
    let caught: unknown;

    try {
      validatePattern({ detail: { 'c-count': [{ numeric: ['>', 0, '>', 0] }] } });
    } catch (error) {
      caught = error;
    }

    expect(caught).toBeInstanceOf(PatternError);
    expect(caught).toMatchObject({ name: 'PatternError', path: 'detail.c-count[0].numeric' });
  });

  it('accepts every operator form shown in the EventBridge documentation', () => {
    const pattern = {
      source: ['aws.ec2', 'aws.fargate'],
      time: [{ prefix: '2017-10-02' }],
      detail: {
        service: [{ prefix: { 'equals-ignore-case': 'EventB' } }],
        FileName: [{ suffix: '.png' }, { suffix: { 'equals-ignore-case': '.png' } }],
        Name: [{ 'equals-ignore-case': 'alice' }],
        FilePath: [{ wildcard: '*/lib/*' }, { 'anything-but': { wildcard: ['*/lib/*', '*/bin/*'] } }],
        state: [{ 'anything-but': ['stopped', 'overloaded'] }, { 'anything-but': { prefix: 'init' } }],
        Region: [{ 'anything-but': { suffix: ['-1', '-2'] } }, { 'anything-but': { 'equals-ignore-case': 'US-EAST-1' } }],
        'x-limit': [{ 'anything-but': [100, 200, 300] }, { numeric: ['=', 3.018e2] }],
        'c-count': [{ numeric: ['>', 0, '<=', 5] }, { exists: false }],
        sourceIPAddress: [{ cidr: '10.0.0.0/24' }, { cidr: '2001:db8:1234:1a00::/64' }],
        responseElements: [null, '', true, 0],
        $or: [{ a: ['x'] }, { b: { c: [{ exists: true }] } }],
      },
    };

    const validate = () => validatePattern(pattern);

    expect(validate).not.toThrow();
  });
});
