/**
 * The CNI plugin as it ships: scripts/build-cni-plugin.ts bundles it into a Node.js single
 * executable with V8's code cache (or, to compare, with a start-up snapshot). Built into a temporary directory so the benchmark can time it
 * beside `node dist/cni/main.js`; when it cannot be built here (postject missing, a checkout
 * without sources) the benchmark says so and measures the script alone.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const BUILD_SCRIPT = fileURLToPath(new URL('../scripts/build-cni-plugin.js', import.meta.url));

export type PluginExecutable = { kind: 'built'; path: string } | { kind: 'unavailable'; reason: string };

export async function buildPluginExecutable(
  outDir: string,
  startup: 'snapshot' | 'code-cache',
): Promise<PluginExecutable> {
  try {
    await promisify(execFile)(process.execPath, [BUILD_SCRIPT, '--out-dir', outDir, '--startup', startup]);
  } catch (err) {
    const detail = err as { stderr?: string; message: string };
    return {
      kind: 'unavailable',
      reason: (detail.stderr ?? detail.message).trim().split('\n')[0] ?? 'build failed',
    };
  }
  const path = join(outDir, 'eni-ipam');
  return existsSync(path)
    ? { kind: 'built', path }
    : { kind: 'unavailable', reason: `${path} was not built` };
}
