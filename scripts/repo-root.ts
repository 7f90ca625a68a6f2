import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The repository's root: the folder holding package-lock.json. The build scripts run from scripts/
 * (tests) or dist/scripts/ (the build). Not package.json: the build copies that into dist/
 * (agent/build-info.ts imports it), so it would stop one folder too low.
 */
function findRepoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package-lock.json'))) {
    const parent = dirname(dir);
    if (parent === dir)
      throw new Error('cannot find the repository root (no package-lock.json above this script)');
    dir = parent;
  }
  return dir;
}

export const REPO_ROOT: string = findRepoRoot();
