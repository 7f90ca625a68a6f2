import { existsSync, realpathSync } from 'node:fs';
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

/**
 * Runs a build script's `main` when the file is the process's entry point (`node dist/scripts/x.js`),
 * not when a test imports it; a failure prints `name: message` and exits 1.
 */
export function runWhenInvoked(
  moduleUrl: string,
  name: string,
  main: (argv: string[]) => Promise<void>,
): void {
  const script = process.argv[1];
  if (script === undefined) return;
  let invoked: boolean;
  try {
    invoked = realpathSync(script) === realpathSync(fileURLToPath(moduleUrl));
  } catch {
    invoked = false;
  }
  if (!invoked) return;
  main(process.argv.slice(2)).catch((err: unknown) => {
    console.error(`${name}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
