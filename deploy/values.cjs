// Values that serverless.yml reads with ${file(./deploy/values.cjs):…}: EventBridge
// patterns, IAM statements and the embedded config, all derived from the rule
// registry in deploy/deployment.ts. esbuild compiles that TypeScript in memory,
// so packaging needs no build step, no network and no AWS credentials.
const { buildSync } = require('esbuild');
const Module = require('node:module');
const path = require('node:path');

let cached;
function load() {
  if (cached) return cached;
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
  const compiled = new Module(entry, module);
  compiled.filename = entry;
  compiled.paths = Module._nodeModulePaths(__dirname);
  compiled._compile(outputFiles[0].text, entry);
  cached = compiled.exports;
  return cached;
}

module.exports = async ({ options }) => {
  const configPath = path.resolve(__dirname, '..', (options && options.config) || 'remediation.config.yml');
  return load().deploymentValues(configPath);
};
