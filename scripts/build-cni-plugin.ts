/**
 * Builds the CNI plugin executable that the init container installs as /opt/cni/bin/eni-ipam.
 *
 * The host has no Node.js, so the plugin ships as a Node.js single executable application (SEA):
 * 1. bundle cni/main.ts and everything it imports into one CommonJS file (a SEA's main script is
 *    CommonJS, and its `require` reaches only built-in modules);
 * 2. `node --experimental-sea-config` turns that file into a blob (with V8's code cache, so the
 *    plugin, run once per pod, does not compile its source at every start);
 * 3. postject injects the blob into a copy of the node binary running this script.
 * The executable is as portable as that node binary: build it in the image of the target
 * architecture (the Dockerfile does), for hosts with glibc >= 2.28.
 *
 * Usage: node dist/scripts/build-cni-plugin.js [--out-dir DIR] [--bundle-only] [--startup snapshot|code-cache]
 * Needs the `rolldown` and `postject` packages (devDependencies); POSTJECT may name postject's
 * dist/cli.js when it is installed elsewhere.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire, isBuiltin } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { REPO_ROOT, runWhenInvoked } from './repo-root.js';

const repoRoot = REPO_ROOT;

/** The plugin's entry point, bundled from source so the bundle never lags behind the code. */
export const PLUGIN_ENTRY = join(repoRoot, 'cni', 'main.ts');
export const DEFAULT_OUT_DIR = join(repoRoot, 'dist', 'cni-plugin');
/** The file name on the host, which is also the `ipam.type` of the conflist. */
export const PLUGIN_NAME = 'eni-ipam';

/** Node's documented fuse: postject flips it so the binary looks for the injected blob. */
const SEA_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';
const SEA_RESOURCE = 'NODE_SEA_BLOB';

/** Modules the bundle still requires; in a SEA only built-ins can be, so anything else is a bug. */
export function externalRequires(bundle: string): string[] {
  const names = new Set<string>();
  for (const match of bundle.matchAll(/\brequire\(\s*["']([^"']+)["']\s*\)/g)) {
    const name = match[1] ?? '';
    if (!isBuiltin(name)) names.add(name);
  }
  return [...names].sort();
}

/** Bundles the plugin into one CommonJS file at `outFile` and checks it needs only built-ins. */
export async function bundlePlugin(outFile: string, entry: string = PLUGIN_ENTRY): Promise<void> {
  // Loaded here so that the rest of this module (and its tests) work without a bundler installed.
  const { build } = await import('rolldown');
  mkdirSync(dirname(outFile), { recursive: true });
  await build({
    input: entry,
    platform: 'node',
    // The sources import `./x.js` (nodenext ESM) for files that are `./x.ts`.
    resolve: { extensionAlias: { '.js': ['.ts', '.js'] } },
    logLevel: 'warn',
    write: true,
    output: { format: 'cjs', file: outFile },
  });
  const external = externalRequires(readFileSync(outFile, 'utf8'));
  if (external.length > 0) {
    throw new Error(
      `the CNI plugin bundle requires ${external.join(', ')}: a single executable can load only Node built-ins, ` +
        'so cni/ must import nothing from node_modules',
    );
  }
}

function postjectCli(): string {
  const fromEnv = process.env['POSTJECT'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  try {
    return createRequire(import.meta.url).resolve('postject/dist/cli.js');
  } catch {
    throw new Error(
      'postject is not installed: add it as a devDependency, or set POSTJECT to its dist/cli.js',
    );
  }
}

/**
 * How the executable avoids compiling the plugin at every start:
 * - `code-cache` (what ships): the blob holds V8's compiled code for the bundle, so each start
 *   evaluates it without parsing or compiling;
 * - `snapshot`: the blob holds a V8 start-up snapshot taken after the bundle ran its top level
 *   (cni/main.ts defers the call itself to the snapshot's main function). `npm run bench` measures
 *   both: on Node 24 the snapshot starts slower than the code cache (deserialising a whole custom
 *   heap costs more than evaluating a 30 kB bundle from cached code), so it does not ship.
 * Node ignores the code cache when a snapshot is used, so the two are alternatives.
 */
export type StartupMode = 'snapshot' | 'code-cache';
export const SHIPPED_STARTUP_MODE: StartupMode = 'code-cache';

/** Turns the bundle into a single executable at `outFile`, from the node binary running this. */
export function buildSingleExecutable(
  bundleFile: string,
  outFile: string,
  mode: StartupMode = SHIPPED_STARTUP_MODE,
): void {
  const work = dirname(outFile);
  const blob = join(work, `${PLUGIN_NAME}.blob`);
  const seaConfig = join(work, 'sea-config.json');
  const startup = mode === 'snapshot' ? { useSnapshot: true } : { useCodeCache: true };
  writeFileSync(
    seaConfig,
    `${JSON.stringify(
      { main: bundleFile, output: blob, disableExperimentalSEAWarning: true, ...startup },
      null,
      2,
    )}\n`,
  );
  execFileSync(process.execPath, ['--experimental-sea-config', seaConfig], { stdio: 'inherit' });
  // Write next to the target, then rename: a half-written binary must never carry the final name.
  const partial = `${outFile}.partial`;
  copyFileSync(process.execPath, partial);
  chmodSync(partial, 0o755);
  execFileSync(
    process.execPath,
    [postjectCli(), partial, SEA_RESOURCE, blob, '--sentinel-fuse', SEA_FUSE, '--overwrite'],
    { stdio: ['ignore', 'ignore', 'inherit'] },
  );
  renameSync(partial, outFile);
  rmSync(blob, { force: true });
  rmSync(seaConfig, { force: true });
}

/** Runs the built plugin's VERSION command: the smallest proof that it starts and speaks CNI. */
export function smokeTest(executable: string, viaNode: boolean): string {
  const [file, args] = viaNode ? [process.execPath, [executable]] : [executable, []];
  const out = execFileSync(file, args, {
    input: '{"cniVersion":"1.0.0"}',
    env: { CNI_COMMAND: 'VERSION', PATH: process.env['PATH'] ?? '' },
  }).toString('utf8');
  const answer = JSON.parse(out) as { supportedVersions?: unknown };
  if (!Array.isArray(answer.supportedVersions) || !answer.supportedVersions.includes('1.0.0')) {
    throw new Error(`the plugin's VERSION answer does not list 1.0.0: ${out}`);
  }
  return out;
}

async function main(argv: readonly string[]): Promise<void> {
  const modeIndex = argv.indexOf('--startup');
  const mode = modeIndex >= 0 ? argv[modeIndex + 1] : SHIPPED_STARTUP_MODE;
  if (mode !== 'snapshot' && mode !== 'code-cache')
    throw new Error(`--startup must be snapshot or code-cache, not ${mode}`);
  const outIndex = argv.indexOf('--out-dir');
  const outDir = outIndex >= 0 ? resolve(argv[outIndex + 1] ?? '') : DEFAULT_OUT_DIR;
  const bundle = join(outDir, `${PLUGIN_NAME}.cjs`);
  await bundlePlugin(bundle);
  smokeTest(bundle, true);
  console.log(`bundled ${bundle}`);
  if (argv.includes('--bundle-only')) return;
  const executable = join(outDir, PLUGIN_NAME);
  buildSingleExecutable(bundle, executable, mode);
  smokeTest(executable, false);
  console.log(`built ${executable}`);
}

runWhenInvoked(import.meta.url, 'build-cni-plugin', main);
