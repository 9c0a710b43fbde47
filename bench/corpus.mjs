// Generates a realistic, deterministic CloudTrail corpus for the replay
// benchmark: gzip log files in the S3 layout
// AWSLogs/<account>/CloudTrail/<region>/YYYY/MM/DD/<account>_CloudTrail_<region>_<time>_<id>.json.gz,
// each `{"Records":[…]}` on one line as CloudTrail writes it. About 1% of the
// records are calls the rules trigger on; the rest is the usual noise of an
// account (STS, S3, Lambda and DynamoDB data events, KMS, Describe*/List*,
// SSM), at realistic sizes (1–2 KB a record).
//
// Usage: node bench/corpus.mjs [dir] [records]   (default bench/.corpus, 1000000)
// The output depends only on the seed and the record count; an existing corpus
// with the same manifest is reused.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzip as gzipCallback } from 'node:zlib';

const gzip = promisify(gzipCallback);

export const GENERATOR_VERSION = 2;
const SEED = 20250301;
const ACCOUNT = '111122223333';
const REGIONS = ['us-east-1', 'eu-west-1', 'eu-central-1'];
const RECORDS_PER_FILE = 500;

function mulberry32(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function generatorFor(seed) {
  const random = mulberry32(seed);
  const int = (n) => Math.floor(random() * n);
  const pick = (list) => list[int(list.length)];
  const hex = (length) => {
    let text = '';
    for (let i = 0; i < length; i++) text += '0123456789abcdef'[int(16)];
    return text;
  };
  const upper = (length) => {
    let text = '';
    for (let i = 0; i < length; i++) text += 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'[int(32)];
    return text;
  };
  const uuid = () => `${hex(8)}-${hex(4)}-4${hex(3)}-${pick(['8', '9', 'a', 'b'])}${hex(3)}-${hex(12)}`;
  return { random, int, pick, hex, upper, uuid };
}

const ROLES = ['app-backend', 'data-pipeline', 'ci-deployer', 'ops-admin', 'lambda-ingest', 'ecs-task-web', 'batch-etl', 'monitoring'];
const USERS = ['alice', 'bob', 'carol', 'dave'];
const USER_AGENTS = [
  'aws-sdk-java/2.25.16 Linux/5.10.210-201.852.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.10+7-LTS Java/17.0.10 vendor/Amazon.com_Inc. io/sync http/Apache cfg/retry-mode/legacy',
  'aws-sdk-go-v2/1.26.1 os/linux lang/go#1.22.2 md/GOOS#linux md/GOARCH#amd64 api/sts#1.28.6',
  'Boto3/1.34.84 md/Botocore#1.34.84 ua/2.0 os/linux#5.10.213-201.855.amzn2.x86_64 md/arch#x86_64 lang/python#3.12.2 md/pyimpl#CPython exec-env/AWS_Lambda_python3.12 cfg/retry-mode#legacy Botocore/1.34.84',
  'aws-cli/2.15.30 md/awscrt#0.19.19 ua/2.0 os/linux#6.5.0 md/arch#x86_64 lang/python#3.11.8 md/pyimpl#CPython cfg/retry-mode#standard md/installer#exe',
  'aws-sdk-js/3.552.0 ua/2.0 os/linux#5.10.214-223.855.amzn2.x86_64 lang/js md/nodejs#20.12.1 api/kms#3.552.0',
];
const BUCKETS = ['prod-assets-111122223333', 'analytics-raw-events', 'app-uploads-eu', 'terraform-state-111122223333'];
const TABLES = ['orders', 'sessions', 'inventory', 'user-profiles'];

function identityFor(g, region) {
  if (g.random() < 0.08) {
    const user = g.pick(USERS);
    return {
      type: 'IAMUser',
      principalId: `AIDA${g.upper(17)}`,
      arn: `arn:aws:iam::${ACCOUNT}:user/${user}`,
      accountId: ACCOUNT,
      accessKeyId: `AKIA${g.upper(16)}`,
      userName: user,
    };
  }
  const role = g.pick(ROLES);
  const roleId = `AROA${g.upper(17)}`;
  const session = `${role}-${g.hex(8)}`;
  return {
    type: 'AssumedRole',
    principalId: `${roleId}:${session}`,
    arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${session}`,
    accountId: ACCOUNT,
    accessKeyId: `ASIA${g.upper(16)}`,
    sessionContext: {
      sessionIssuer: { type: 'Role', principalId: roleId, arn: `arn:aws:iam::${ACCOUNT}:role/${role}`, accountId: ACCOUNT, userName: role },
      attributes: { creationDate: `2025-01-01T0${g.int(10)}:${10 + g.int(50)}:${10 + g.int(50)}Z`, mfaAuthenticated: 'false' },
      ...(g.random() < 0.5 ? { ec2RoleDelivery: '2.0' } : {}),
    },
    ...(g.random() < 0.3 ? { invokedBy: `${g.pick(['lambda', 'ecs-tasks', 'glue'])}.amazonaws.com` } : {}),
  };
}

function base(g, region, time, eventSource, eventName, extra) {
  const requestID = g.uuid();
  return {
    eventVersion: '1.09',
    userIdentity: identityFor(g, region),
    eventTime: time,
    eventSource,
    eventName,
    awsRegion: region,
    sourceIPAddress: g.random() < 0.5 ? `10.${g.int(256)}.${g.int(256)}.${g.int(256)}` : `${eventSource}`,
    userAgent: g.pick(USER_AGENTS),
    ...extra.head,
    requestID,
    eventID: g.uuid(),
    readOnly: extra.readOnly,
    ...(extra.resources ? { resources: extra.resources } : {}),
    eventType: extra.eventType ?? 'AwsApiCall',
    managementEvent: extra.management ?? true,
    recipientAccountId: ACCOUNT,
    ...(extra.sharedEventID ? { sharedEventID: g.uuid() } : {}),
    eventCategory: extra.management === false ? 'Data' : 'Management',
    tlsDetails: { tlsVersion: 'TLSv1.3', cipherSuite: 'TLS_AES_128_GCM_SHA256', clientProvidedHostHeader: `${eventSource.split('.')[0]}.${region}.amazonaws.com` },
    ...(extra.tail ?? {}),
  };
}

const NOISE = [
  [18, (g, r, t) => {
    const role = g.pick(ROLES);
    return base(g, r, t, 'sts.amazonaws.com', 'AssumeRole', {
      readOnly: true,
      head: {
        requestParameters: { roleArn: `arn:aws:iam::${ACCOUNT}:role/${role}`, roleSessionName: `${role}-${g.hex(8)}`, durationSeconds: 3600 },
        responseElements: {
          credentials: { accessKeyId: `ASIA${g.upper(16)}`, sessionToken: `IQoJb3JpZ2luX2VjE${g.upper(120)}`, expiration: 'Jan 1, 2025, 11:00:00 AM' },
          assumedRoleUser: { assumedRoleId: `AROA${g.upper(17)}:${role}`, arn: `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/${role}-${g.hex(8)}` },
        },
      },
      resources: [{ accountId: ACCOUNT, type: 'AWS::IAM::Role', ARN: `arn:aws:iam::${ACCOUNT}:role/${role}` }],
      sharedEventID: true,
    });
  }],
  [15, (g, r, t) => {
    const bucket = g.pick(BUCKETS);
    const key = `data/${g.hex(2)}/${g.hex(12)}.parquet`;
    return base(g, r, t, 's3.amazonaws.com', 'GetObject', {
      readOnly: true,
      management: false,
      head: {
        requestParameters: { bucketName: bucket, Host: `${bucket}.s3.${r}.amazonaws.com`, key },
        responseElements: null,
        additionalEventData: { SignatureVersion: 'SigV4', CipherSuite: 'TLS_AES_128_GCM_SHA256', bytesTransferredIn: 0, AuthenticationMethod: 'AuthHeader', 'x-amz-id-2': g.upper(60), bytesTransferredOut: g.int(5_000_000) },
      },
      resources: [
        { type: 'AWS::S3::Object', ARN: `arn:aws:s3:::${bucket}/${key}` },
        { accountId: ACCOUNT, type: 'AWS::S3::Bucket', ARN: `arn:aws:s3:::${bucket}` },
      ],
    });
  }],
  [10, (g, r, t) => {
    const bucket = g.pick(BUCKETS);
    const key = `uploads/${g.hex(8)}/${g.hex(16)}.json`;
    return base(g, r, t, 's3.amazonaws.com', 'PutObject', {
      readOnly: false,
      management: false,
      head: {
        requestParameters: { bucketName: bucket, Host: `${bucket}.s3.${r}.amazonaws.com`, key, 'x-amz-server-side-encryption': 'aws:kms' },
        responseElements: { 'x-amz-server-side-encryption': 'aws:kms', 'x-amz-server-side-encryption-aws-kms-key-id': `arn:aws:kms:${r}:${ACCOUNT}:key/${g.uuid()}` },
        additionalEventData: { SignatureVersion: 'SigV4', CipherSuite: 'TLS_AES_128_GCM_SHA256', bytesTransferredIn: g.int(2_000_000), SSEApplied: 'SSE_KMS', AuthenticationMethod: 'AuthHeader', 'x-amz-id-2': g.upper(60), bytesTransferredOut: 0 },
      },
      resources: [
        { type: 'AWS::S3::Object', ARN: `arn:aws:s3:::${bucket}/${key}` },
        { accountId: ACCOUNT, type: 'AWS::S3::Bucket', ARN: `arn:aws:s3:::${bucket}` },
      ],
    });
  }],
  [14, (g, r, t) => {
    const keyArn = `arn:aws:kms:${r}:${ACCOUNT}:key/${g.uuid()}`;
    return base(g, r, t, 'kms.amazonaws.com', 'Decrypt', {
      readOnly: true,
      head: {
        requestParameters: { encryptionContext: { 'aws:s3:arn': `arn:aws:s3:::${g.pick(BUCKETS)}/data/${g.hex(12)}` }, encryptionAlgorithm: 'SYMMETRIC_DEFAULT' },
        responseElements: null,
      },
      resources: [{ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: keyArn }],
      sharedEventID: g.random() < 0.5,
    });
  }],
  [6, (g, r, t) => {
    const keyId = g.uuid();
    return base(g, r, t, 'kms.amazonaws.com', 'GenerateDataKey', {
      readOnly: true,
      head: { requestParameters: { keyId: `arn:aws:kms:${r}:${ACCOUNT}:key/${keyId}`, keySpec: 'AES_256', encryptionContext: { 'aws:lambda:FunctionArn': `arn:aws:lambda:${r}:${ACCOUNT}:function:${g.pick(ROLES)}` } }, responseElements: null },
      resources: [{ accountId: ACCOUNT, type: 'AWS::KMS::Key', ARN: `arn:aws:kms:${r}:${ACCOUNT}:key/${keyId}` }],
    });
  }],
  [8, (g, r, t) =>
    base(g, r, t, 'ec2.amazonaws.com', 'DescribeInstances', {
      readOnly: true,
      head: { requestParameters: { instancesSet: {}, filterSet: { items: [{ name: 'tag:Name', valueSet: { items: [{ value: g.pick(ROLES) }] } }] } }, responseElements: null },
    })],
  [5, (g, r, t) => base(g, r, t, 'sts.amazonaws.com', 'GetCallerIdentity', { readOnly: true, head: { requestParameters: null, responseElements: null } })],
  [4, (g, r, t) => {
    const group = `/aws/lambda/${g.pick(ROLES)}`;
    return base(g, r, t, 'logs.amazonaws.com', 'CreateLogStream', {
      readOnly: false,
      head: { requestParameters: { logGroupName: group, logStreamName: `2025/01/01/[$LATEST]${g.hex(32)}` }, responseElements: null },
    });
  }],
  [3, (g, r, t) => base(g, r, t, 's3.amazonaws.com', 'ListBuckets', { readOnly: true, head: { requestParameters: { Host: `s3.${r}.amazonaws.com` }, responseElements: null, additionalEventData: { SignatureVersion: 'SigV4', CipherSuite: 'TLS_AES_128_GCM_SHA256', bytesTransferredIn: 0, AuthenticationMethod: 'AuthHeader', 'x-amz-id-2': g.upper(60), bytesTransferredOut: 4178 } } })],
  [5, (g, r, t) =>
    base(g, r, t, 'ssm.amazonaws.com', 'UpdateInstanceInformation', {
      readOnly: false,
      head: {
        requestParameters: { instanceId: `i-0${g.hex(16)}`, agentVersion: '3.3.131.0', agentStatus: 'Active', platformType: 'Linux', platformName: 'Amazon Linux', platformVersion: '2023', iPAddress: `10.0.${g.int(256)}.${g.int(256)}`, computerName: `ip-10-0-${g.int(256)}-${g.int(256)}.${r}.compute.internal`, agentName: 'amazon-ssm-agent', availabilityZone: `${r}a`, availabilityZoneId: 'use1-az4', sSMConnectionChannel: 'ssmmessages' },
        responseElements: null,
      },
    })],
  [4, (g, r, t) => {
    const fn = `arn:aws:lambda:${r}:${ACCOUNT}:function:${g.pick(ROLES)}`;
    return base(g, r, t, 'lambda.amazonaws.com', 'Invoke', {
      readOnly: false,
      management: false,
      head: { requestParameters: { functionName: fn, invocationType: 'RequestResponse', logType: 'None' }, responseElements: null, additionalEventData: { functionVersion: `${fn}:$LATEST` } },
      resources: [{ accountId: ACCOUNT, type: 'AWS::Lambda::Function', ARN: fn }],
    });
  }],
  [5, (g, r, t) => {
    const table = g.pick(TABLES);
    return base(g, r, t, 'dynamodb.amazonaws.com', 'GetItem', {
      readOnly: true,
      management: false,
      head: { requestParameters: { tableName: table, key: { pk: 'HIDDEN_DUE_TO_SECURITY_REASONS' }, consistentRead: false, projectionExpression: 'HIDDEN_DUE_TO_SECURITY_REASONS' }, responseElements: null },
      resources: [{ accountId: ACCOUNT, type: 'AWS::DynamoDB::Table', ARN: `arn:aws:dynamodb:${r}:${ACCOUNT}:table/${table}` }],
    });
  }],
  [1.5, (g, r, t) => base(g, r, t, 'secretsmanager.amazonaws.com', 'GetSecretValue', { readOnly: true, head: { requestParameters: { secretId: `arn:aws:secretsmanager:${r}:${ACCOUNT}:secret:${g.pick(ROLES)}/db-${g.hex(6)}` }, responseElements: null } })],
];

/** About 1% of records: calls the rules trigger on (security groups, EBS, IAM, console sign-in), about half of them offending. */
const RULE_REACHING = [
  [5, (g, r, t) => {
    const world = g.random() < 0.5;
    const port = g.pick([22, 3389, 443, 5432]);
    const groupId = `sg-0${g.hex(16)}`;
    return base(g, r, t, 'ec2.amazonaws.com', 'AuthorizeSecurityGroupIngress', {
      readOnly: false,
      head: {
        requestParameters: { groupId, ipPermissions: { items: [{ ipProtocol: 'tcp', fromPort: port, toPort: port, groups: {}, ipRanges: { items: [{ cidrIp: world ? '0.0.0.0/0' : '10.20.0.0/16' }] }, ipv6Ranges: {}, prefixListIds: {} }] } },
        responseElements: { requestId: g.uuid(), _return: true, securityGroupRuleSet: { items: [{ groupOwnerId: ACCOUNT, groupId, securityGroupRuleId: `sgr-0${g.hex(16)}`, isEgress: false, ipProtocol: 'tcp', fromPort: port, toPort: port, cidrIpv4: world ? '0.0.0.0/0' : '10.20.0.0/16' }] } },
      },
    });
  }],
  [2, (g, r, t) => {
    const encrypted = g.random() < 0.5;
    return base(g, r, t, 'ec2.amazonaws.com', 'CreateVolume', {
      readOnly: false,
      head: {
        requestParameters: { size: 100, zone: `${r}a`, volumeType: 'gp3', encrypted, tagSpecificationSet: { items: [{ resourceType: 'volume', tags: [{ key: 'Name', value: g.pick(ROLES) }] }] } },
        responseElements: { requestId: g.uuid(), volumeId: `vol-0${g.hex(16)}`, size: '100', zone: `${r}a`, status: 'creating', createTime: 1735725600000, volumeType: 'gp3', iops: 3000, encrypted, throughput: 125, multiAttachEnabled: false },
      },
    });
  }],
  [2, (g, r, t) => {
    const policy = g.random() < 0.5 ? 'AdministratorAccess' : 'ReadOnlyAccess';
    return base(g, 'us-east-1', t, 'iam.amazonaws.com', 'AttachRolePolicy', {
      readOnly: false,
      head: { requestParameters: { roleName: g.pick(ROLES), policyArn: `arn:aws:iam::aws:policy/${policy}` }, responseElements: null },
    });
  }],
  [1, (g, r, t) =>
    base(g, 'us-east-1', t, 'signin.amazonaws.com', 'ConsoleLogin', {
      readOnly: false,
      eventType: 'AwsConsoleSignIn',
      head: { requestParameters: null, responseElements: { ConsoleLogin: 'Success' }, additionalEventData: { LoginTo: 'https://console.aws.amazon.com/console/home', MobileVersion: 'No', MFAIdentifier: `arn:aws:iam::${ACCOUNT}:mfa/${g.pick(USERS)}`, MFAUsed: 'Yes' } },
    })],
];

function weighted(table) {
  const total = table.reduce((sum, [weight]) => sum + weight, 0);
  return (g) => {
    let x = g.random() * total;
    for (const [weight, make] of table) {
      x -= weight;
      if (x < 0) return make;
    }
    return table[table.length - 1][1];
  };
}

const pickNoise = weighted(NOISE);
const pickRuleReaching = weighted(RULE_REACHING);

function pad(n, width = 2) {
  return String(n).padStart(width, '0');
}

/** The text of file `index` (of `files`), holding `count` records. */
function fileText(index, files, count) {
  const g = generatorFor(SEED * 7919 + index);
  const region = REGIONS[index % REGIONS.length];
  // Files cover January 2025, five minutes each, spread evenly.
  const start = Date.UTC(2025, 0, 1) + Math.floor((index / files) * 31 * 86_400_000);
  const records = [];
  for (let i = 0; i < count; i++) {
    const time = new Date(start + Math.floor((i / count) * 300_000)).toISOString().replace(/\.\d{3}Z$/, 'Z');
    const make = g.random() < 0.01 ? pickRuleReaching(g) : pickNoise(g);
    records.push(JSON.stringify(make(g, region, time)));
  }
  const date = new Date(start);
  const day = `${date.getUTCFullYear()}/${pad(date.getUTCMonth() + 1)}/${pad(date.getUTCDate())}`;
  const stamp = `${date.getUTCFullYear()}${pad(date.getUTCMonth() + 1)}${pad(date.getUTCDate())}T${pad(date.getUTCHours())}${pad(date.getUTCMinutes())}Z`;
  const path = join('AWSLogs', ACCOUNT, 'CloudTrail', region, day, `${ACCOUNT}_CloudTrail_${region}_${stamp}_${g.upper(16)}.json.gz`);
  return { path, text: `{"Records":[${records.join(',')}]}` };
}

/** Writes the corpus unless the same one is already there. Returns its manifest. */
export async function ensureCorpus(dir, records, log = () => undefined) {
  const manifestPath = join(dir, '.manifest.json');
  const wanted = { generator: GENERATOR_VERSION, seed: SEED, records };
  if (existsSync(manifestPath)) {
    const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
    if (manifest.generator === wanted.generator && manifest.seed === wanted.seed && manifest.records === wanted.records) return manifest;
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const files = Math.ceil(records / RECORDS_PER_FILE);
  let rawBytes = 0;
  let gzBytes = 0;
  let nextFile = 0;
  const started = Date.now();
  // Text is generated on this thread; compression runs on the libuv pool, a few files in flight.
  const inFlight = new Set();
  while (nextFile < files || inFlight.size > 0) {
    while (nextFile < files && inFlight.size < 4) {
      const index = nextFile++;
      const count = Math.min(RECORDS_PER_FILE, records - index * RECORDS_PER_FILE);
      const { path, text } = fileText(index, files, count);
      const raw = Buffer.from(text);
      rawBytes += raw.length;
      const job = gzip(raw).then((compressed) => {
        const full = join(dir, path);
        mkdirSync(join(full, '..'), { recursive: true });
        writeFileSync(full, compressed);
        gzBytes += compressed.length;
        inFlight.delete(job);
      });
      inFlight.add(job);
      if (index % 200 === 0) log(`  corpus: ${index}/${files} files`);
    }
    await Promise.race(inFlight);
  }
  const manifest = { ...wanted, files, rawBytes, gzBytes, seconds: (Date.now() - started) / 1000 };
  writeFileSync(manifestPath, JSON.stringify(manifest, null, 2));
  return manifest;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const dir = process.argv[2] ?? join(import.meta.dirname, '.corpus');
  const records = Number(process.argv[3] ?? 1_000_000);
  const manifest = await ensureCorpus(dir, records, (line) => console.error(line));
  console.log(JSON.stringify(manifest));
}
