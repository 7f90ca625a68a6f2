/**
 * Bundles the `eni-ipam` command (cli/main.ts) for the image: `node dist/bundle/eni-ipam.mjs agent`.
 *
 * Why a bundle: the agent runs on every node, so its resident memory is paid once per node, and
 * most of it is code. Loaded from node_modules, `@aws-sdk/client-ec2` brings the module graph of
 * its ~700 commands (the agent sends about a dozen) and every package pulls its files one ESM
 * module record at a time. Bundled as ESM, rolldown keeps only what is reachable from the entry
 * (the EC2 client's ES modules are `sideEffects: false`, so unused commands drop out), and every
 * dynamic import stays a chunk of its own that loads only when it runs:
 * - each subcommand (cli/main.ts loads them lazily): `agent` never loads the simulator;
 * - what only some configurations use: CloudWatch (CLOUDWATCH_METRICS_ENABLED) and Redis
 *   (ENI_IPAM_EC2_RATE_REDIS_URL) are imported where they are constructed.
 * Three substitutions keep code that never runs from loading (each checked against the code it
 * stands in for at every build): client-node's ListWatch gets a selector serializer instead of the
 * generated one and its model map, node-fetch gets Node's URL instead of whatwg-url, and ES
 * imports of node:http get the module through require (its ES namespace would load undici). The
 * build fails if a module that must not be loaded (NOT_BUNDLED) is in the bundle. What each step
 * saved, and what the agent's memory is made of: docs/benchmarks.md, footprint.
 *
 * Usage: node dist/scripts/build-agent-bundle.js [--out-dir DIR]
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, posix, resolve } from 'node:path';
import type { OutputAsset, OutputChunk, Plugin } from 'rolldown';
import { REPO_ROOT, runWhenInvoked } from './repo-root.js';

const repoRoot = REPO_ROOT;

export const CLI_ENTRY = join(repoRoot, 'cli', 'main.ts');
export const DEFAULT_BUNDLE_DIR = join(repoRoot, 'dist', 'bundle');
/** The entry file in the bundle directory: what the image runs. */
export const BUNDLE_ENTRY_FILE = 'eni-ipam.mjs';
/** Beside the bundle directory: V8's compiled code for the agent's modules (NODE_COMPILE_CACHE, measured by the bench). */
export const COMPILE_CACHE_DIR_NAME = 'bundle-compile-cache';
/** Where the image keeps the bundle (Dockerfile: COPY dist to /app/dist). */
export const IMAGE_DIST_DIR = '/app/dist';

/**
 * How the image runs the agent: `node ${AGENT_NODE_FLAGS} dist/bundle/eni-ipam.mjs agent` with
 * agentProcessEnv(dist). Each setting is measured on its own by `npm run bench` (footprint):
 * - --max-semi-space-size=1: the young generation's semi-spaces (up to 16 MB each by default)
 *   sized for a process whose steady state allocates little;
 * - --optimize-for-size: V8 trades speed for memory (smaller heap growth steps, denser objects);
 *   the agent's hot path (an ADD) is microseconds of JavaScript either way;
 * - GLIBC_TUNABLES mmap_threshold: V8 parses and compiles the bundle with malloc'd scratch memory
 *   that glibc keeps in its heap after it is freed (tens of MB that no one uses again); blocks of
 *   16 kB and more mapped on their own go back to the system when freed;
 * - --no-opt --no-maglev: no optimizing compilers, the interpreter and the baseline compiler
 *   (Sparkplug) only. Once the ADD path is hot, TurboFan and Maglev compile it, and their own code
 *   (pages of the node binary that nothing else touches), their zones and the optimized code cost
 *   about 8 MB of RSS for the life of the process: 250 ADDs took the m5.8xlarge agent from 71 to
 *   81 MB with them, to 72 MB without (--no-opt alone: 76 MB, --no-maglev alone: 79 MB; with
 *   --no-opt alone the m5.4xlarge with 232 assigned peaked at 79 MB). The price is CPU under
 *   sustained load: a compressed day of 86,400 pods took 52 s with both compilers, 68 s without
 *   them (107 s in a run sharing the machine's two cores with other work; 74 s with Maglev alone),
 *   well under a millisecond of CPU per pod either way; at idle nothing changes.
 * Not used, also measured: --lite-mode or --jitless (interpreter only; about 2.5 MB below
 * --no-opt --no-maglev, at the price of every line of JavaScript interpreted); --v8-pool-size=1,
 * --single-threaded, glibc arena_max=1 (no gain); --single-threaded-gc (2 MB more);
 * --max-old-space-size caps the heap without lowering the RSS much, and a cap too close to the
 * live heap turns a burst into a crash, so the container's memory limit is the cap.
 */
export const AGENT_NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=1',
  '--optimize-for-size',
  '--no-opt',
  '--no-maglev',
];
export const AGENT_PROCESS_ENV: Readonly<Record<string, string>> = {
  GLIBC_TUNABLES: 'glibc.malloc.mmap_threshold=16384',
};

/**
 * AGENT_PROCESS_ENV and the compile cache of the bundle under `distDir` (measured, not shipped):
 * NODE_COMPILE_CACHE lets V8 load the agent's compiled code, made once when the bundle is built
 * (warmCompileCache), instead of compiling about 3 MB of JavaScript at every start. It shortened
 * start-up by at most a tenth of a second, but Node keeps the cache's entries in memory, 5-6 MB of
 * RSS for the life of the process; start-up is within its target without it, memory is not.
 * Node keys the cache by node version, V8 flags, user id and each file's path and content.
 */
export function agentProcessEnv(distDir: string): Readonly<Record<string, string>> {
  return { ...AGENT_PROCESS_ENV, NODE_COMPILE_CACHE: posix.join(distDir, COMPILE_CACHE_DIR_NAME) };
}

/**
 * Fills the compile cache of the bundle at `entry` by loading the agent's modules once
 * (`eni-ipam agent --help` imports everything the agent runs at start, then exits).
 */
export function warmCompileCache(entry: string, cacheDir: string): void {
  rmSync(cacheDir, { recursive: true, force: true });
  execFileSync(process.execPath, [...AGENT_NODE_FLAGS, entry, 'agent', '--help'], {
    env: { PATH: process.env['PATH'] ?? '', ...AGENT_PROCESS_ENV, NODE_COMPILE_CACHE: cacheDir },
    stdio: 'ignore',
  });
  if (!existsSync(cacheDir)) throw new Error(`node made no compile cache in ${cacheDir}`);
}

/**
 * client-node's ListWatch (dist/cache.js) imports its ObjectSerializer only to pass the label and
 * field selectors, strings, through `ObjectSerializer.serialize(selector, 'string')`, which gives
 * a string back unchanged. That import alone would load the generated serializer and its model
 * map: a class for every Kubernetes type (about 1 MB of code and 3 MB of heap). The bundle gives
 * ListWatch a serializer that does just that; the build fails if ListWatch ever uses it otherwise.
 */
const LIST_WATCH_MODULE = /[\\/]@kubernetes[\\/]client-node[\\/]dist[\\/]cache\.js$/;
const SELECTOR_SERIALIZER_ID = '\0list-watch-selector-serializer';
const SELECTOR_SERIALIZER_SOURCE = `export const ObjectSerializer = {
  serialize(value, type) {
    if (type !== 'string' || typeof value !== 'string') throw new Error('ListWatch serializes only selector strings here');
    return value;
  },
};
`;

export function listWatchSelectorSerializer(): Plugin {
  return {
    name: 'list-watch-selector-serializer',
    resolveId(source, importer) {
      if (source !== './serializer.js' || importer === undefined || !LIST_WATCH_MODULE.test(importer))
        return null;
      const text = readFileSync(importer, 'utf8');
      // One import and nothing but selector strings passed through serialize.
      const mentions = text.match(/ObjectSerializer/g)?.length ?? 0;
      const imports = text.match(/import \{ ObjectSerializer \} from '\.\/serializer\.js';/g)?.length ?? 0;
      const selectorUses =
        text.match(/ObjectSerializer\.serialize\(this\.(labelSelector|fieldSelector), 'string'\)/g)?.length ??
        0;
      if (imports !== 1 || mentions !== imports + selectorUses) {
        throw new Error(
          `${importer} uses ObjectSerializer for more than selector strings: the bundle can no longer ` +
            'give ListWatch its selector serializer (scripts/build-agent-bundle.ts)',
        );
      }
      return SELECTOR_SERIALIZER_ID;
    },
    load(id) {
      return id === SELECTOR_SERIALIZER_ID ? SELECTOR_SERIALIZER_SOURCE : null;
    },
  };
}

/**
 * node-fetch 2 (client-node's HTTP client) parses URLs with `Url.URL || whatwgUrl.URL`: Node's
 * own URL, which every Node version it runs on has. The whatwg-url package it imports for the
 * fallback is never used, yet loading it builds tr46's Unicode mapping table, about 1.5 MB of
 * heap. The bundle gives node-fetch Node's URL under that name instead; the build fails if
 * node-fetch ever uses whatwg-url for more.
 */
const NODE_FETCH_MODULE = /[\\/]node_modules[\\/]node-fetch[\\/]lib[\\/]index\.m?js$/;
const NODE_URL_ID = '\0whatwg-url-as-node-url';
const NODE_URL_SOURCE = `const api = { URL: globalThis.URL, URLSearchParams: globalThis.URLSearchParams };
export const URL = api.URL;
export const URLSearchParams = api.URLSearchParams;
export default api;
`;

export function whatwgUrlAsNodeUrl(): Plugin {
  return {
    name: 'whatwg-url-as-node-url',
    resolveId(source, importer) {
      if (source !== 'whatwg-url' || importer === undefined || !NODE_FETCH_MODULE.test(importer)) return null;
      const text = readFileSync(importer, 'utf8');
      const mentions = text.match(/whatwgUrl/g)?.length ?? 0;
      const fallbacks = text.match(/= Url\.URL \|\| whatwgUrl\.URL;/g)?.length ?? 0;
      if (fallbacks === 0 || mentions !== 1 + fallbacks) {
        throw new Error(
          `${importer} uses whatwg-url for more than a fallback to Node's URL: the bundle can no ` +
            "longer give it Node's URL (scripts/build-agent-bundle.ts)",
        );
      }
      return NODE_URL_ID;
    },
    load(id) {
      return id === NODE_URL_ID ? NODE_URL_SOURCE : null;
    },
  };
}

/**
 * `node:http` through require, not as an ES module. Node builds a built-in's ES module namespace by
 * reading every export, and node:http's WebSocket, MessageEvent and CloseEvent are getters that
 * load undici (Node's fetch, about 13 MB of resident memory in a bare process) on first read: one
 * `import ... from 'node:http'` anywhere in the bundle costs that for the life of the process.
 * The bundle's ES imports of node:http get the module's own exports, as `require` returns them,
 * without undici's three; an import of any other name fails the build (the bundler checks names).
 * `require('http')` from CommonJS packages is left as it is: it never builds the namespace.
 */
const NODE_HTTP_ID = '\0node-http-without-undici';
const NODE_HTTP_EXPORTS = [
  'Agent',
  'ClientRequest',
  'IncomingMessage',
  'METHODS',
  'OutgoingMessage',
  'STATUS_CODES',
  'Server',
  'ServerResponse',
  'createServer',
  'get',
  'request',
  'setMaxIdleHTTPParsers',
  'validateHeaderName',
  'validateHeaderValue',
] as const;
const NODE_HTTP_SOURCE = `import { createRequire } from 'node:module';
const http = createRequire(import.meta.url)('node:http');
export default http;
export const { ${NODE_HTTP_EXPORTS.join(', ')} } = http;
`;

export function nodeHttpWithoutUndici(): Plugin {
  return {
    name: 'node-http-without-undici',
    resolveId(source, _importer, options) {
      if (source !== 'node:http' && source !== 'http') return null;
      return options.kind === 'import-statement' || options.kind === 'dynamic-import' ? NODE_HTTP_ID : null;
    },
    load(id) {
      return id === NODE_HTTP_ID ? NODE_HTTP_SOURCE : null;
    },
  };
}

/**
 * Modules that must not be in the bundle: client-node's generated API classes, models and
 * serializer (the agent makes its requests with agent/kube/kube-api.ts), its index, which would
 * bring them all, and whatwg-url with tr46 (see whatwgUrlAsNodeUrl).
 */
export const NOT_BUNDLED: readonly RegExp[] = [
  /[\\/]@kubernetes[\\/]client-node[\\/]dist[\\/]gen[\\/](apis|models|types)[\\/]/,
  /[\\/]@kubernetes[\\/]client-node[\\/]dist[\\/](index|api|serializer)\.js$/,
  /[\\/]node_modules[\\/](whatwg-url|tr46)[\\/]/,
];

/** Throws naming every module of the output that NOT_BUNDLED rules out. */
export function checkBundledModules(output: readonly (OutputChunk | OutputAsset)[]): void {
  const unwanted = output
    .flatMap((file) => (file.type === 'chunk' ? Object.keys(file.modules) : []))
    .filter((id) => NOT_BUNDLED.some((pattern) => pattern.test(id)));
  if (unwanted.length > 0) {
    const shown = unwanted.slice(0, 5).map((id) => id.slice(id.lastIndexOf('node_modules')));
    throw new Error(
      `the bundle carries ${unwanted.length} module(s) the agent must not load: ${shown.join(', ')}` +
        `${unwanted.length > shown.length ? ', ...' : ''} (an import of @kubernetes/client-node's index?)`,
    );
  }
}

/**
 * client-node's generated code (dist/gen: API classes, models, their serializer and the request
 * plumbing) has no side effects on load, only classes and constants, but its models assign their
 * type maps as static properties after each class, which the bundler must otherwise assume are
 * side effects; dist/config.js imports two helpers (createConfiguration, ServerConfiguration)
 * from gen's index, which re-exports every model. Declared side-effect free, only what runs stays.
 */
const CLIENT_NODE_GENERATED = /[\\/]@kubernetes[\\/]client-node[\\/]dist[\\/]gen[\\/]/;

/** Bare imports the bundle must not inline (none today: everything the agent runs is bundled). */
const EXTERNAL: readonly string[] = [];

export interface BundleReport {
  entry: string;
  /** Bytes of the entry and of every chunk, by file name relative to the bundle directory. */
  files: Record<string, number>;
}

/** Bundles cli/main.ts and everything it imports into `outDir` (ESM, one chunk per lazy import). */
export async function bundleAgent(outDir: string = DEFAULT_BUNDLE_DIR): Promise<BundleReport> {
  const { build } = await import('rolldown');
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const { output } = await build({
    input: { 'eni-ipam': CLI_ENTRY },
    platform: 'node',
    plugins: [listWatchSelectorSerializer(), whatwgUrlAsNodeUrl(), nodeHttpWithoutUndici()],
    treeshake: { moduleSideEffects: [{ test: CLIENT_NODE_GENERATED, sideEffects: false }] },
    external: [...EXTERNAL],
    resolve: {
      // The sources import `./x.js` (nodenext ESM) for files that are `./x.ts`.
      extensionAlias: { '.js': ['.ts', '.js'] },
      // The ES module build of a package where it has one. The AWS SDK ships each package twice:
      // dist-cjs (one file per package, what `main` and the `node` export condition name) and
      // dist-es (one module per command and shape, under `module` and the `module` condition).
      // Only the ES modules can be tree-shaken: from dist-cjs the bundle carried all ~800 EC2
      // commands and every shape's schema. Of the agent's packages only the AWS SDK's differ.
      mainFields: ['module', 'main'],
      conditionNames: ['module', 'import', 'node', 'default'],
    },
    // bottleneck's Redis connections `eval("require")` their client; it is handed one instead.
    onLog(level, log, handler) {
      if (log.code === 'EVAL') return;
      handler(level, log);
    },
    logLevel: 'warn',
    write: true,
    output: {
      format: 'esm',
      dir: outDir,
      entryFileNames: '[name].mjs',
      chunkFileNames: 'chunks/[name]-[hash].mjs',
      // The source text of every loaded chunk stays in the heap for the life of the process (V8
      // keeps it to compile lazily): without comments and whitespace it is half the size, and in
      // ASCII (non-ASCII escaped) V8 holds it one byte per character instead of two. Names are
      // kept: logged errors and stack traces must still say which class and function.
      charset: 'ascii',
      minify: {
        compress: { keepNames: { function: true, class: true } },
        mangle: { keepNames: { function: true, class: true } },
        codegen: { removeWhitespace: true },
      },
    },
  });
  checkBundledModules(output);
  const files: Record<string, number> = {};
  const walk = (dir: string, prefix: string): void => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) walk(path, `${prefix}${name}/`);
      else files[`${prefix}${name}`] = statSync(path).size;
    }
  };
  walk(outDir, '');
  const entry = join(outDir, BUNDLE_ENTRY_FILE);
  if (!existsSync(entry)) throw new Error(`the bundle has no ${BUNDLE_ENTRY_FILE}`);
  return { entry, files };
}

/** The bundle answers `--help` with the command list: it loads and dispatches. */
export function smokeTestBundle(entry: string): string {
  const out = execFileSync(process.execPath, [entry, '--help'], {
    env: { PATH: process.env['PATH'] ?? '' },
  }).toString('utf8');
  if (!out.includes('agent')) throw new Error(`the bundle's --help does not list the agent command:\n${out}`);
  return out;
}

async function main(argv: readonly string[]): Promise<void> {
  const outIndex = argv.indexOf('--out-dir');
  const outDir = outIndex >= 0 ? resolve(argv[outIndex + 1] ?? '') : DEFAULT_BUNDLE_DIR;
  const report = await bundleAgent(outDir);
  smokeTestBundle(report.entry);
  warmCompileCache(report.entry, join(dirname(outDir), COMPILE_CACHE_DIR_NAME));
  const total = Object.values(report.files).reduce((a, b) => a + b, 0);
  console.log(
    `bundled ${report.entry} (${Object.keys(report.files).length} files, ${(total / 1024 / 1024).toFixed(1)} MB)`,
  );
}

runWhenInvoked(import.meta.url, 'build-agent-bundle', main);
