// Values serverless.yml reads with ${file(./deploy/values.cjs):…}: the functions,
// roles, alarms and embedded config of every rule family, derived from the rule
// registry by deploy/deployment.ts. esbuild compiles that TypeScript in memory,
// so packaging needs no build step, no network and no AWS credentials.
const { buildSync } = require('esbuild');
const Module = require('node:module');
const path = require('node:path');

let compiled;
function load() {
  if (compiled) return compiled;
  const entry = path.join(__dirname, 'deployment.ts');
  const { outputFiles } = buildSync({
    entryPoints: [entry],
    bundle: true,
    write: false,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    packages: 'external',
    logLevel: 'silent',
  });
  const loaded = new Module(entry, module);
  loaded.filename = entry;
  loaded.paths = Module._nodeModulePaths(__dirname);
  loaded._compile(outputFiles[0].text, entry);
  compiled = loaded.exports;
  return compiled;
}

/** The names given with --param (osls gives an array of "name=value", or null when there is none). */
function givenParamNames(options) {
  const given = options ? options.param : undefined;
  return (Array.isArray(given) ? given : given == null ? [] : [given]).map((item) => String(item).split('=')[0]);
}

module.exports = async ({ options, resolveVariable }) => {
  const get = (address) => resolveVariable(address);
  const params = {
    service: await get('self:service'),
    stage: await get('sls:stage'),
    region: await get('self:provider.region'),
    modes: await get('param:modes'),
    exemptionTagKey: await get('param:exemptionTagKey'),
    kmsKeyArn: await get('param:kmsKeyArn'),
    slackWebhookSecret: await get('param:slackWebhookSecret'),
    alertEmail: await get('param:alertEmail'),
    remediationConcurrency: await get('param:remediationConcurrency'),
    configFile: await get('param:configFile'),
    logRetentionDays: await get('param:logRetentionDays'),
    createTrail: await get('param:createTrail'),
    securityHub: await get('param:securityHub'),
    historyRetentionDays: await get('param:historyRetentionDays'),
    approvals: await get('param:approvals'),
    proposalDays: await get('param:proposalDays'),
    slackSigningSecret: await get('param:slackSigningSecret'),
    organizationId: await get('param:organizationId'),
    memberAccounts: await get('param:memberAccounts'),
  };
  const context = {
    given: givenParamNames(options),
    known: Object.keys((await get('self:params.default')) || {}),
    projectDir: path.resolve(__dirname, '..'),
  };
  try {
    const values = load().deploymentValues(params, context);
    for (const warning of values.warnings) console.warn(`warning: ${params.configFile}: ${warning}`);
    return values;
  } catch (error) {
    // osls prints the stack of what a resolver throws. A refused parameter or
    // config file is the user's input, not a fault: its message alone, each
    // problem on one line (a config file's problems prefixed with its name),
    // indented under the "  - " item osls prints it in.
    if (error && error.kind === 'config') {
      if (Array.isArray(error.problems)) error.message = error.problems.map((problem) => `${params.configFile}: ${problem}`).join('\n');
      error.stack = error.message.split('\n').join('\n    ');
    }
    throw error;
  }
};
