// esbuild plugins of the Lambda bundles: serverless.yml (custom.esbuild.plugins)
// and bench/bundles.mjs both load this file, so the benchmark measures what
// is deployed.
const { join } = require('node:path');

const jmespathStub = join(__dirname, 'jmespath-unused.mjs');

/** Resolves Powertools' JMESPath imports to a stub that throws when used; see jmespath-unused.mjs. */
const withoutJmespath = {
  name: 'without-jmespath',
  setup(build) {
    build.onResolve({ filter: /^@aws-lambda-powertools\/jmespath(\/functions)?$/ }, () => ({ path: jmespathStub }));
  },
};

module.exports = [withoutJmespath];
