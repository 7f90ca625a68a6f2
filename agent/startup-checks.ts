/**
 * Conflicts between settings that each look fine alone, found before anything is opened: with
 * the socket at the checkpoint's path the agent would move its own live socket aside; with the
 * metrics and introspection servers on one port the second fails only after "serving"; a spool
 * path that is a directory used to crash-loop the agent. Every conflict found is named at once.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { AgentConfig } from './config.js';
import type { BindAddress } from './config-schema.js';

export class StartupConflictError extends Error {
  override readonly name = 'StartupConflictError';
  readonly code = 'ERR_STARTUP_CONFLICT';
  constructor(readonly problems: readonly string[]) {
    super(`conflicting settings:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
}

type Checked = Pick<AgentConfig, 'socketPath' | 'checkpointPath' | 'spoolPath' | 'metrics' | 'introspection'>;

/** The conflicts among the paths and ports, pure. */
export function settingConflicts(config: Checked): string[] {
  const problems: string[] = [];
  const paths: [string, string][] = [
    ['ENI_IPAM_SOCKET', config.socketPath],
    ['ENI_IPAM_CHECKPOINT', config.checkpointPath],
    ['ENI_IPAM_SPOOL', config.spoolPath],
  ];
  for (const [i, [nameA, pathA]] of paths.entries()) {
    for (const [nameB, pathB] of paths.slice(i + 1)) {
      if (resolve(pathA) === resolve(pathB))
        problems.push(`${nameA} and ${nameB} are the same file ${pathA}`);
      // The checkpoint's temp file and a spool's claimed file live beside them under derived names.
    }
  }
  if (
    config.metrics.enabled &&
    config.introspection.enabled &&
    sameListener(config.metrics.bind, config.introspection.bind)
  ) {
    problems.push(
      `the metrics server and the introspection server both listen on port ${config.metrics.bind.port}: give them different ports`,
    );
  }
  return problems;
}

/** Conflicts with what the filesystem holds at those paths. */
export async function pathConflicts(config: Checked): Promise<string[]> {
  const problems: string[] = [];
  for (const [name, path] of [
    ['ENI_IPAM_SPOOL', config.spoolPath],
    ['ENI_IPAM_SOCKET', config.socketPath],
  ] as const) {
    if (await isDirectory(path)) problems.push(`${name} ${path} is a directory; it must name a file`);
  }
  return problems;
}

/** Throws a StartupConflictError naming every conflict. */
export async function checkStartup(config: Checked): Promise<void> {
  const problems = [...settingConflicts(config), ...(await pathConflicts(config))];
  if (problems.length > 0) throw new StartupConflictError(problems);
}

const ANY = new Set([undefined, '', '0.0.0.0', '::', '[::]']);

function sameListener(a: BindAddress, b: BindAddress): boolean {
  if (a.port !== b.port || a.port === 0) return false;
  return a.host === b.host || ANY.has(a.host) || ANY.has(b.host);
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isDirectory();
  } catch {
    return false;
  }
}
