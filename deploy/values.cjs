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

module.exports = async ({ resolveVariable }) => {
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
  };
  const configPath = path.resolve(__dirname, '..', await get('param:configFile'));
  const values = load().stackValues(configPath, params);
  for (const warning of values.warnings) console.warn(`warning: ${path.basename(configPath)}: ${warning}`);
  return values;
};
