/**
 * A CNI bin directory as a node has one: the reference plugins beside an `eni-ipam` executable.
 * The plugin ships as dist/cni/main.js; here a wrapper script of that name runs it with the same
 * node as the test, as docs/cni.md describes for an install without a node on the runtime's PATH.
 */
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { peerPaths, requireExecutable } from '../../peers/paths.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));
export const CNI_PLUGIN_ENTRY = join(repoRoot, 'dist', 'cni', 'main.js');

export type ReferencePlugins = 'debian' | 'upstream';

export interface CniBinDir {
  readonly dir: string;
  /** The eni-ipam wrapper: run it directly for GC, STATUS and fuzzing. */
  readonly eniIpam: string;
  /** The main plugin (ptp) from the chosen set. */
  readonly ptp: string;
  remove(): Promise<void>;
}

/** Debian's plugins speak CNI up to 1.0.0; the upstream build (test/peers/install.sh) speaks 1.1.0. */
export async function createCniBinDir(plugins: ReferencePlugins = 'debian'): Promise<CniBinDir> {
  const source = plugins === 'debian' ? peerPaths.debianCniDir : peerPaths.upstreamCniDir;
  const ptpSource = requireExecutable('cni', join(source, 'ptp'));
  if (!existsSync(CNI_PLUGIN_ENTRY)) {
    throw new Error(`${CNI_PLUGIN_ENTRY} is missing: run \`npm run build\` before the e2e suites`);
  }
  const dir = await mkdtemp(join(tmpdir(), 'eni-ipam-e2e-cnibin-'));
  const ptp = join(dir, 'ptp');
  await symlink(ptpSource, ptp);
  const eniIpam = join(dir, 'eni-ipam');
  // exec: the runtime's signals and exit code reach node itself, as with an installed binary.
  await writeFile(
    eniIpam,
    `#!/bin/sh\nexec ${shellQuote(process.execPath)} ${shellQuote(CNI_PLUGIN_ENTRY)} "$@"\n`,
  );
  await chmod(eniIpam, 0o755);
  return { dir, eniIpam, ptp, remove: () => rm(dir, { recursive: true, force: true }) };
}

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}
