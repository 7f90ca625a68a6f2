import { appendFile, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { DelOutcome, DelRequest } from '../../agent/cni-backend.js';
import { applyReleaseSpool } from '../../agent/release-spool.js';
import { appendRelease, parseSpoolLine, type SpooledRelease } from '../../cni/release-spool-file.js';

let dir: string;
let spool: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eni-ipam-spool-'));
  spool = join(dir, 'run', 'release-spool.jsonl');
});

afterEach(() => rm(dir, { recursive: true, force: true }));

function release(containerId: string, spooledAt = 1_000): SpooledRelease {
  return {
    op: 'del',
    containerId,
    ifname: 'eth0',
    network: 'aws-cni',
    pod: { name: containerId },
    spooledAt,
  };
}

/** Records what it was asked to release; refuses the ids in `refuse`. */
function recorder(refuse: string[] = []): {
  seen: DelRequest[];
  del: (r: DelRequest) => Promise<DelOutcome>;
} {
  const seen: DelRequest[] = [];
  return {
    seen,
    del: (r) => {
      seen.push(r);
      return Promise.resolve(
        refuse.includes(r.containerId) ? { kind: 'failure', cniCode: 11, message: 'busy' } : { kind: 'ok' },
      );
    },
  };
}

describe('release spool', () => {
  it('appends durable JSON lines, creating the directory and a 0600 file', async () => {
    appendRelease(spool, release('a'));
    appendRelease(spool, { ...release('b', 2_000), addresses: ['10.0.1.5/24'] });
    const lines = (await readFile(spool, 'utf8')).split('\n');
    expect(lines.at(-1)).toBe('');
    expect(lines.slice(0, -1).map(parseSpoolLine)).toEqual([
      release('a'),
      { ...release('b', 2_000), addresses: ['10.0.1.5/24'] },
    ]);
    expect((await stat(spool)).mode & 0o777).toBe(0o600);
  });

  it('applies every release in order with its spooledAt, then removes the spool', async () => {
    appendRelease(spool, release('a', 1));
    appendRelease(spool, release('b', 2));
    const backend = recorder();
    expect(await applyReleaseSpool({ path: spool, backend })).toEqual({ applied: 2, kept: 0, unreadable: 0 });
    expect(backend.seen).toEqual([release('a', 1), release('b', 2)]);
    await expect(stat(spool)).rejects.toThrow(/ENOENT/);
    await expect(stat(`${spool}.applying`)).rejects.toThrow(/ENOENT/);
    // Nothing left: a second start applies nothing.
    expect(await applyReleaseSpool({ path: spool, backend })).toEqual({ applied: 0, kept: 0, unreadable: 0 });
  });

  it('tolerates a torn last line and skips garbage', async () => {
    appendRelease(spool, release('a'));
    await appendFile(spool, 'not json at all\n');
    appendRelease(spool, release('b'));
    await appendFile(spool, '{"v":1,"op":"del","containerId":"c","ifn');
    const warnings: unknown[] = [];
    const logger = { info: () => undefined, warn: (obj: object) => warnings.push(obj) };
    const backend = recorder();
    expect(await applyReleaseSpool({ path: spool, backend, logger })).toEqual({
      applied: 2,
      kept: 0,
      unreadable: 2,
    });
    expect(backend.seen.map((r) => r.containerId)).toEqual(['a', 'b']);
    expect(warnings).toEqual([
      expect.objectContaining({ line: 2, torn: false }),
      expect.objectContaining({ line: 4, torn: true }),
    ]);
  });

  it('finishes a claim left by a crash before the releases spooled since', async () => {
    appendRelease(spool, release('old'));
    // A previous start claimed the spool and died before applying it.
    await writeFile(`${spool}.applying`, await readFile(spool));
    await rm(spool);
    appendRelease(spool, release('new'));
    const backend = recorder();
    expect(await applyReleaseSpool({ path: spool, backend })).toEqual({ applied: 2, kept: 0, unreadable: 0 });
    expect(backend.seen.map((r) => r.containerId)).toEqual(['old', 'new']);
  });

  it('keeps the releases the backend refuses (or throws on) for the next start', async () => {
    appendRelease(spool, release('ok'));
    appendRelease(spool, release('busy'));
    appendRelease(spool, release('boom'));
    const refusing = recorder(['busy']);
    const backend = {
      del: (r: DelRequest): Promise<DelOutcome> =>
        r.containerId === 'boom' ? Promise.reject(new Error('bug')) : refusing.del(r),
    };
    expect(await applyReleaseSpool({ path: spool, backend })).toEqual({ applied: 1, kept: 2, unreadable: 0 });
    const left = (await readFile(spool, 'utf8')).trim().split('\n').map(parseSpoolLine);
    expect(left).toEqual([release('busy'), release('boom')]);
    const next = recorder();
    expect(await applyReleaseSpool({ path: spool, backend: next })).toEqual({
      applied: 2,
      kept: 0,
      unreadable: 0,
    });
  });
});
