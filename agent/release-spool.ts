/**
 * The agent's side of the release spool (cni/release-spool-file.ts): at start-up, every DEL the
 * plugin could not deliver is applied through the backend, then the spool is gone.
 *
 * Claiming is a rename to `<spool>.applying`, atomic on one filesystem: a plugin that starts
 * appending afterwards creates a fresh spool for the next start. A crash while applying leaves the
 * claimed file behind and the next start applies it again, which is safe because DEL is
 * idempotent and each release carries `spooledAt`. Releases the backend refuses are appended back
 * to the live spool so that no start-up loses them. Call this once the CNI server is listening:
 * a plugin that could not connect a moment earlier may still be appending, and reading until the
 * claimed file stops growing picks its line up.
 */
import { randomUUID } from 'node:crypto';
import { appendFile, readFile, rename, stat, unlink } from 'node:fs/promises';
import { encodeRequest } from '../cni/protocol.js';
import { parseSpoolLine, type SpooledRelease } from '../cni/release-spool-file.js';
import type { CniBackend } from './cni-backend.js';
import type { CniServerLogger } from './cni-server.js';

export interface SpoolReport {
  /** Releases the backend accepted. */
  applied: number;
  /** Releases the backend refused or threw on; written back to the spool for the next start. */
  kept: number;
  /** Lines that could not be read: a torn last line after a crash, or garbage. */
  unreadable: number;
}

export interface ApplySpoolOptions {
  path: string;
  backend: Pick<CniBackend, 'del'>;
  logger?: Pick<CniServerLogger, 'info' | 'warn'>;
}

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (err) {
    if (errno(err) === 'ENOENT') return false;
    throw err;
  }
}

/** Appends still in flight at claim time are one line each; a few rereads see them land. */
const MAX_REREADS = 5;

/** Reads the claimed file until it stops changing (a late append finishes first). */
async function readSettled(path: string): Promise<string> {
  let text = await readFile(path, 'utf8');
  for (let i = 0; i < MAX_REREADS; i++) {
    const again = await readFile(path, 'utf8');
    if (again === text) break;
    text = again;
  }
  return text;
}

export async function applyReleaseSpool({ path, backend, logger }: ApplySpoolOptions): Promise<SpoolReport> {
  const claimed = `${path}.applying`;
  const report: SpoolReport = { applied: 0, kept: 0, unreadable: 0 };
  // A claimed file left by a crash goes first, then whatever accumulated since. One that cannot be
  // read (a directory, no permission) is set aside with a warning: it must not stop every start.
  if (await exists(claimed)) {
    try {
      await applyClaimed(claimed, path, backend, report, logger);
    } catch (err) {
      const aside = `${claimed}.unreadable-${randomUUID()}`;
      await rename(claimed, aside);
      logger?.warn(
        { spool: claimed, movedTo: aside, err: err instanceof Error ? err.message : String(err) },
        'left-over claimed spool unreadable; set aside',
      );
    }
  }
  // A spool path that is a directory is a configuration error (found at start-up): never claim it.
  if ((await stat(path).catch(() => undefined))?.isDirectory() === true) {
    throw new Error(`release spool ${path} is a directory; it must name a file`);
  }
  try {
    await rename(path, claimed);
  } catch (err) {
    if (errno(err) === 'ENOENT') return report;
    throw err;
  }
  await applyClaimed(claimed, path, backend, report, logger);
  return report;
}

async function applyClaimed(
  claimed: string,
  live: string,
  backend: Pick<CniBackend, 'del'>,
  report: SpoolReport,
  logger: ApplySpoolOptions['logger'],
): Promise<void> {
  const text = await readSettled(claimed);
  const lines = text.split('\n');
  const refused: SpooledRelease[] = [];
  for (const [i, line] of lines.entries()) {
    if (line === '') continue;
    const release = parseSpoolLine(line);
    if (release === undefined) {
      report.unreadable++;
      // Only the last line can be torn by a crash; anything else is worth a louder note.
      const torn = i === lines.length - 1;
      logger?.warn(
        { spool: claimed, line: i + 1, torn },
        torn ? 'ignoring torn last spool line' : 'ignoring unreadable spool line',
      );
      continue;
    }
    let outcome: Awaited<ReturnType<CniBackend['del']>>;
    try {
      outcome = await backend.del(release);
    } catch (err) {
      outcome = { kind: 'failure', cniCode: 100, message: err instanceof Error ? err.message : String(err) };
    }
    if (outcome.kind === 'ok') {
      report.applied++;
    } else {
      refused.push(release);
      logger?.warn(
        { containerId: release.containerId, ifname: release.ifname, reason: outcome.message },
        'spooled release refused; kept for the next start',
      );
    }
  }
  if (refused.length > 0) {
    await appendFile(live, refused.map((r) => encodeRequest(r)).join(''), { mode: 0o600, flush: true });
    report.kept += refused.length;
  }
  await unlink(claimed);
  if (report.applied > 0) logger?.info({ applied: report.applied, spool: live }, 'applied spooled releases');
}
