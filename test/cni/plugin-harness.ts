/**
 * Builds the real plugin executable once and runs it as the container runtime does: a fresh
 * process with CNI_* variables and the network configuration on stdin.
 *
 * The build compiles cni/main.ts and what it imports with the options of tsconfig.build.json into
 * a private directory: a few seconds instead of the whole project, and immune to another build
 * rewriting dist/ while the suite runs. The output is what `npm run build` puts in dist/cni/.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { systemClock } from '../../time/clock.js';

const run = promisify(execFile);
export const REPO = resolve(import.meta.dirname, '../..');

export interface BuiltPlugin {
  dir: string;
  main: string;
  dispose(): Promise<void>;
}

export async function buildPlugin(): Promise<BuiltPlugin> {
  const dir = await mkdtemp(join(tmpdir(), 'eni-ipam-cni-build-'));
  const outDir = join(dir, 'dist');
  const config = {
    extends: join(REPO, 'tsconfig.build.json'),
    compilerOptions: { rootDir: REPO, outDir, typeRoots: [join(REPO, 'node_modules/@types')] },
    include: [],
    files: [join(REPO, 'cni/main.ts')],
  };
  await writeFile(join(dir, 'tsconfig.json'), JSON.stringify(config));
  // The compiled files are ES modules; outside the repo nothing else says so.
  await writeFile(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
  await run(join(REPO, 'node_modules/.bin/tsc'), ['-p', join(dir, 'tsconfig.json')], { cwd: REPO });
  return { dir, main: join(outDir, 'cni/main.js'), dispose: () => rm(dir, { recursive: true, force: true }) };
}

export interface ProcessResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A plugin run must end on its own well before this; reaching it fails the test as a hang. */
const HANG_MS = 20_000;

export function execPlugin(main: string, env: Record<string, string>, stdin: string): Promise<ProcessResult> {
  return new Promise<ProcessResult>((resolvePromise, reject) => {
    // Only what a runtime passes: no ENI_IPAM_* leaking in from the developer's shell.
    const child = spawn(process.execPath, [main], { env: { PATH: process.env['PATH'] ?? '', ...env } });
    let stdout = '';
    let stderr = '';
    const hang = systemClock.setTimer(HANG_MS, () => {
      child.kill('SIGKILL');
      reject(new Error(`plugin did not exit within ${HANG_MS} ms; stdout=${stdout} stderr=${stderr}`));
    });
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      hang.cancel();
      resolvePromise({ code, stdout, stderr });
    });
    child.stdin.on('error', () => undefined); // VERSION may exit before reading stdin
    child.stdin.end(stdin);
  });
}

/** Parses the plugin's stdout, which must be one JSON document (or empty). */
export function stdoutJson(r: ProcessResult): Record<string, unknown> {
  return JSON.parse(r.stdout) as Record<string, unknown>;
}
