// Bundle size and cold init of every Lambda function, against a floor: a bundle
// that imports only the same SDK clients and does nothing else, built and
// measured side by side in the same run. Usage: node bench/bundles.mjs [--runs N] [--json]
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = resolve(import.meta.dirname, '..');
const out = join(root, 'bench', '.bundles');
const { values } = parseArgs({ options: { runs: { type: 'string', default: '25' }, json: { type: 'boolean', default: false } } });
const runs = Number(values.runs);

/** The same options (and plugins) serverless.yml gives serverless-esbuild. */
const lambdaOptions = {
  plugins: createRequire(import.meta.url)('../deploy/esbuild-plugins.cjs'),
  bundle: true,
  minify: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  mainFields: ['module', 'main'],
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'error',
  metafile: true,
};

/** The SDK client packages a bundle pulls in, read from esbuild's metafile. */
function sdkClients(metafile) {
  const clients = new Set();
  for (const input of Object.keys(metafile.inputs)) {
    const match = input.match(/node_modules\/@aws-sdk\/(client-[a-z0-9-]+)\//);
    if (match) clients.add(match[1]);
  }
  return [...clients].sort();
}

/** What a bundle's bytes above the SDK are made of, by origin, from esbuild's metafile. */
function composition(metafile) {
  const parts = { sdk: 0, own: 0, powertools: 0, zod: 0, other: 0 };
  for (const [input, { bytesInOutput }] of Object.entries(Object.values(metafile.outputs)[0].inputs)) {
    const pkg = input.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/)?.[1];
    if (!pkg) parts.own += bytesInOutput;
    else if (pkg.startsWith('@aws-sdk/') || pkg.startsWith('@smithy/') || pkg.startsWith('@aws-crypto/') || pkg === '@aws/lambda-invoke-store' || pkg === 'mnemonist' || pkg === 'fast-xml-parser' || pkg === 'strnum' || pkg === 'tslib' || pkg === 'bowser') parts.sdk += bytesInOutput;
    else if (pkg.startsWith('@aws-lambda-powertools/')) parts.powertools += bytesInOutput;
    else if (pkg === 'zod') parts.zod += bytesInOutput;
    else parts.other += bytesInOutput;
  }
  return parts;
}

function clientClassName(pkg) {
  const names = { 'client-ec2': 'EC2Client', 'client-sns': 'SNSClient', 'client-iam': 'IAMClient', 'client-ssm': 'SSMClient', 'client-secrets-manager': 'SecretsManagerClient', 'client-dynamodb': 'DynamoDBClient', 'client-s3': 'S3Client', 'client-s3-control': 'S3ControlClient', 'client-kms': 'KMSClient', 'client-cloudtrail': 'CloudTrailClient', 'client-sagemaker': 'SageMakerClient', 'client-sts': 'STSClient', 'client-guardduty': 'GuardDutyClient', 'client-config-service': 'ConfigServiceClient' };
  return names[pkg];
}

function median(numbers) {
  const sorted = [...numbers].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/**
 * The environment a deployed function starts with (serverless.yml provider
 * environment plus deploy/deployment.ts's per-function variables), so that
 * module-scope work that depends on it (the idempotency table's client, the
 * notifier's secret store client) is measured as it runs in Lambda.
 */
function deployedEnvironment(name) {
  const common = {
    AWS_REGION: 'us-east-1',
    AWS_LAMBDA_FUNCTION_NAME: `remediation-bot-dev-${name}`,
    ALERT_TOPIC_ARN: 'arn:aws:sns:us-east-1:111122223333:remediation-bot-dev-alerts',
    BOT_PRINCIPALS: 'arn:aws:iam::111122223333:role/remediation-bot/*',
    POWERTOOLS_SERVICE_NAME: 'remediation-bot',
    POWERTOOLS_LOG_LEVEL: 'INFO',
  };
  return name === 'notifier'
    ? { ...common, SLACK_WEBHOOK_SECRET: 'arn:aws:secretsmanager:us-east-1:111122223333:secret:remediation-bot/slack-webhook-AbCdEf' }
    : { ...common, IDEMPOTENCY_TABLE: 'remediation-bot-dev-idempotency' };
}

function importTime(file, environment) {
  const script = `const t = performance.now(); await import(${JSON.stringify(file)}); process.stdout.write(String(performance.now() - t));`;
  const ms = execFileSync(process.execPath, ['--input-type=module', '-e', script], {
    env: { PATH: process.env.PATH, ...environment, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', NODE_NO_WARNINGS: '1' },
  });
  return Number(ms);
}

/**
 * Median time to import each file in a fresh node process, measured inside the
 * process (module load and init). The files take turns, run by run, so that a
 * change in machine load affects the bundle and its floor alike.
 */
function coldInits(files, environment) {
  const samples = files.map(() => []);
  for (let i = 0; i < runs; i++) files.forEach((file, k) => samples[k].push(importTime(file, environment)));
  return samples.map(median);
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
// Every function's entry point; runtime.ts and member-access.ts are wiring the family handlers share, not functions.
const SHARED = new Set(['runtime.ts', 'member-access.ts']);
const handlers = readdirSync(join(root, 'handlers')).filter((f) => f.endsWith('.ts') && !SHARED.has(f)).sort();
const rows = [];
for (const file of handlers) {
  const name = file.replace(/\.ts$/, '');
  const bundle = join(out, `${name}.mjs`);
  const result = await build({ ...lambdaOptions, entryPoints: [join(root, 'handlers', file)], outfile: bundle, define: { __REMEDIATION_CONFIG__: '{}', 'globalThis.__LAMBDA_BUNDLE__': 'true' } });
  const clients = sdkClients(result.metafile);
  const floorEntry = join(out, `${name}.floor-entry.mjs`);
  writeFileSync(
    floorEntry,
    clients.map((pkg) => `import { ${clientClassName(pkg)} } from '@aws-sdk/${pkg}';`).join('\n') +
      `\nexport const handler = async () => [${clients.map(clientClassName).join(', ')}].length;\n`,
  );
  const floor = join(out, `${name}.floor.mjs`);
  await build({ ...lambdaOptions, entryPoints: [floorEntry], outfile: floor, nodePaths: [join(root, 'node_modules')] });
  const bytes = statSync(bundle).size;
  const floorBytes = statSync(floor).size;
  const [init, floorInit] = coldInits([bundle, floor], deployedEnvironment(name));
  rows.push({ function: name, clients, bytes, floorBytes, sizeRatio: bytes / floorBytes, initMs: init, floorInitMs: floorInit, initRatio: init / floorInit, parts: composition(result.metafile) });
}

if (values.json) {
  process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
} else {
  const kb = (n) => `${(n / 1024).toFixed(0)} KB`;
  console.log(`Bundles (minified ESM, node22) and cold init (median of ${runs} fresh node ${process.version} processes importing the bundle)`);
  console.log('| function | SDK clients | bundle | floor | size ratio (target <= 1.25) | init | floor init | init ratio (target <= 1.3) |');
  console.log('|---|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const mark = (ratio, target) => `${ratio.toFixed(2)}${ratio <= target ? '' : ' MISSED'}`;
    console.log(`| ${r.function} | ${r.clients.join(', ')} | ${kb(r.bytes)} | ${kb(r.floorBytes)} | ${mark(r.sizeRatio, 1.25)} | ${r.initMs.toFixed(0)} ms | ${r.floorInitMs.toFixed(0)} ms | ${mark(r.initRatio, 1.3)} |`);
  }
  console.log('\nWhat each bundle carries besides the SDK (minified bytes; the size target allows 25% of the floor)');
  console.log('| function | allowance (0.25 × floor) | own code (engine, rules, alerts) | Powertools | zod/mini | other | total |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of rows) {
    const { own, powertools, zod, other } = r.parts;
    console.log(`| ${r.function} | ${kb(r.floorBytes * 0.25)} | ${kb(own)} | ${kb(powertools)} | ${kb(zod)} | ${kb(other)} | ${kb(own + powertools + zod + other)} |`);
  }
}
