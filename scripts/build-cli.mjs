// Bundles the CLI into dist/, in two builds:
//
// - cli.mjs (the entry) and replay-worker.mjs (the replay's worker threads):
//   `replay` and `rules` decide offline and never call AWS, so every AWS SDK
//   client the rules name is replaced by a stub with the same exports (each
//   command carries its real operation schema, which the rule kit reads;
//   nothing can be sent). Loading the real clients would cost every replay,
//   and every worker thread, most of its start-up time and memory.
// - aws/*.mjs: the subcommands that do call AWS (invoke, undo, history,
//   replay --from cloudtrail|athena|lake), with the real SDK bundled and
//   tree-shaken; cli.mjs imports them only when one of them runs.
//
// Other packages stay external (node_modules). No TypeScript at run time.
import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { basename } from 'node:path';
import { build } from 'esbuild';

/** The subcommands that call AWS, each lazily imported by cli/main.ts as `./<name>.js`. */
const AWS_MODULES = ['invoke', 'undo', 'history', 'lookup-events', 'athena', 'lake', 'approve', 'redrive', 'member-template'];

const SDK_PACKAGE = /^@aws-sdk\/(client-[a-z0-9-]+|lib-dynamodb)$/;

/** The project's own dependencies other than the AWS SDK stay external; the SDK and what it needs are bundled, tree-shaken. */
const { dependencies = {} } = JSON.parse(readFileSync('package.json', 'utf8'));
const EXTERNAL = Object.keys(dependencies).filter((name) => !name.startsWith('@aws-sdk/'));
const externalExceptSdk = {
  name: 'external-except-sdk',
  setup(b) {
    b.onResolve({ filter: /^[^./]/ }, (args) => {
      const external = args.path.startsWith('node:') || EXTERNAL.some((name) => args.path === name || args.path.startsWith(`${name}/`));
      return external ? { path: args.path, external: true } : undefined;
    });
  },
};

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

/** A module with the runtime exports of an SDK package, none of which can reach AWS. */
async function stubSource(name) {
  const real = await import(name);
  const lines = [`const offline = (what) => { throw new Error(what + ': the replay makes no AWS call'); };`];
  for (const [key, value] of Object.entries(real)) {
    if (!IDENTIFIER.test(key) || key === 'default') continue;
    if (typeof value === 'function') {
      if (/Command$/.test(key)) {
        let schema = null;
        try {
          const found = new value({}).schema;
          schema = Array.isArray(found) ? found.slice(0, 3) : null;
        } catch {
          schema = null;
        }
        lines.push(`export class ${key} { constructor(input) { this.input = input; } get schema() { return ${JSON.stringify(schema)}; } }`);
      } else if (/(Exception|Error|Fault)$/.test(key)) {
        lines.push(`export class ${key} extends Error { constructor(options) { super(options?.message); this.name = ${JSON.stringify(key)}; } }`);
      } else if (/Client$/.test(key)) {
        lines.push(`export class ${key} { constructor() { this.config = {}; } send() { return offline(${JSON.stringify(key)}); } destroy() {} }`);
      } else {
        lines.push(`export function ${key}() { return offline(${JSON.stringify(key)}); }`);
      }
    } else if (value !== null && typeof value === 'object') {
      let json;
      try {
        json = JSON.stringify(value);
      } catch {
        json = undefined;
      }
      if (json !== undefined) lines.push(`export const ${key} = ${json};`);
    } else if (['string', 'number', 'boolean'].includes(typeof value)) {
      lines.push(`export const ${key} = ${JSON.stringify(value)};`);
    }
  }
  return lines.join('\n');
}

/** For the offline build: SDK packages become stubs; the AWS subcommands stay in their own build. */
const offlinePlugin = {
  name: 'offline-sdk',
  setup(b) {
    b.onResolve({ filter: SDK_PACKAGE }, (args) => ({ path: args.path, namespace: 'sdk-stub' }));
    b.onLoad({ filter: /.*/, namespace: 'sdk-stub' }, async (args) => ({ contents: await stubSource(args.path), loader: 'js' }));
    b.onResolve({ filter: /^\.\/[a-z-]+\.js$/ }, (args) => {
      const name = args.path.slice(2, -3);
      if (!AWS_MODULES.includes(name) || !args.importer.endsWith(`cli${'/'}main.ts`)) return undefined;
      return { path: `./aws/${name}.mjs`, external: true };
    });
  },
};

const common = {
  outdir: 'dist',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // The SDK's ES module builds, as the Lambda bundles use them; what is still CommonJS gets a require.
  mainFields: ['module', 'main'],
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  sourcemap: 'linked',
  metafile: true,
  logLevel: 'warning',
};

const online = await build({
  ...common,
  entryPoints: Object.fromEntries(AWS_MODULES.map((name) => [`aws/${name}`, `cli/${name}.ts`])),
  chunkNames: 'chunks/aws-[name]-[hash]',
  plugins: [externalExceptSdk],
});
const offline = await build({
  ...common,
  entryPoints: { cli: 'cli/main.ts', 'replay-worker': 'cli/replay-worker.ts' },
  chunkNames: 'chunks/[name]-[hash]',
  plugins: [offlinePlugin, externalExceptSdk],
});

// Chunk names carry a content hash: drop old ones these builds no longer use
// (only old ones: a concurrent build of other sources may still need its own).
const current = new Set([...Object.keys(online.metafile.outputs), ...Object.keys(offline.metafile.outputs)].map((path) => basename(path)));
const stale = Date.now() - 60 * 60 * 1000;
for (const name of readdirSync('dist/chunks')) {
  const path = `dist/chunks/${name}`;
  if (!current.has(name) && statSync(path).mtimeMs < stale) rmSync(path, { force: true });
}
