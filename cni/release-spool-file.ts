/**
 * The release spool: where a DEL goes when the agent cannot be reached. The AWS VPC CNI answers
 * such a DEL with success and forgets it, so the address stays assigned to a pod that no longer
 * exists until something else notices. We append the release to a file instead and succeed only
 * once it is on disk; the agent applies the file when it starts (agent/release-spool.ts).
 *
 * Format: JSON lines, each one protocol DEL request (cni/protocol.ts) with `spooledAt` set, so the
 * agent reads the spool with the same validator as the socket. Lines are appended with one write
 * on an O_APPEND descriptor and fsynced; a crash can leave only the last line torn.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { encodeRequest, parseRequest, type DelRequest } from './protocol.js';

export type SpooledRelease = DelRequest & { spooledAt: number };

function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Appends one release durably; throws when it could not be recorded. */
export function appendRelease(path: string, release: SpooledRelease): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const created = !existsSync(path);
  const line = Buffer.from(encodeRequest(release), 'utf8');
  const fd = openSync(path, 'a', 0o600);
  try {
    let written = 0;
    while (written < line.length) written += writeSync(fd, line, written, line.length - written);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  // A new file's directory entry is durable only once the directory itself is synced.
  if (created) fsyncDirectory(dir);
}

/** One spool line (without "\n") back to a release, or undefined when it is torn or foreign. */
export function parseSpoolLine(line: string): SpooledRelease | undefined {
  const parsed = parseRequest(line);
  if (!parsed.ok || parsed.value.op !== 'del') return undefined;
  const { spooledAt } = parsed.value;
  return spooledAt === undefined ? undefined : { ...parsed.value, spooledAt };
}
