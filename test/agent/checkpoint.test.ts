import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkpointFilesFor,
  FileCheckpointer,
  memoryFsCheckpointFiles,
  MemoryCheckpointer,
  nodeCheckpointFiles,
  snapshotWhenWritten,
  textWhenWritten,
  TMPFS_MAGIC,
  type CheckpointFiles,
} from '../../agent/checkpoint.js';
import { CheckpointClosedError } from '../../agent/errors.js';
import { ManualClock, settle } from '../../time/manual-clock.js';

interface Recorder {
  files: CheckpointFiles;
  ops: string[];
  writes: string[];
  /** When set, writeSynced waits for it before writing. */
  gate: Promise<void> | undefined;
  /** Writes that have reached writeSynced (held at the gate or not). */
  writesStarted: number;
  failNextWrite: Error | undefined;
}

function recorder(): Recorder {
  const r: Recorder = {
    ops: [],
    writes: [],
    gate: undefined,
    writesStarted: 0,
    failNextWrite: undefined,
    files: {
      read: (p) => nodeCheckpointFiles.read(p),
      async writeSynced(p, text) {
        r.writesStarted++;
        if (r.gate) await r.gate;
        const fail = r.failNextWrite;
        r.failNextWrite = undefined;
        if (fail) throw fail;
        r.ops.push(`write+fsync ${p.split('/').pop() ?? ''}`);
        r.writes.push(typeof text === 'string' ? text : Buffer.concat(text).toString('utf8'));
        await nodeCheckpointFiles.writeSynced(p, text);
      },
      async rename(from, to) {
        r.ops.push(`rename ${from.split('/').pop() ?? ''} -> ${to.split('/').pop() ?? ''}`);
        await nodeCheckpointFiles.rename(from, to);
      },
      async syncDir(dir) {
        r.ops.push('fsync dir');
        await nodeCheckpointFiles.syncDir(dir);
      },
      mkdirs: (dir) => nodeCheckpointFiles.mkdirs(dir),
      remove: (p) => nodeCheckpointFiles.remove(p),
    },
  };
  return r;
}

function track(promise: Promise<void>): { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } {
  const t: { state: 'pending' | 'resolved' | 'rejected'; error?: unknown } = { state: 'pending' };
  promise.then(
    () => (t.state = 'resolved'),
    (err: unknown) => {
      t.state = 'rejected';
      t.error = err;
    },
  );
  return t;
}

/** Lets real file I/O finish; the ManualClock only moves when the test says so. */
async function untilSettled(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}

let dir: string;
let path: string;
let clock: ManualClock;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'eni-ipam-checkpoint-'));
  path = join(dir, 'state', 'checkpoint.json');
  clock = new ManualClock();
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('FileCheckpointer', () => {
  it('reports a missing checkpoint', async () => {
    const cp = new FileCheckpointer({ path, clock });
    expect(await cp.load()).toEqual({ kind: 'missing' });
  });

  it('writes atomically: temp file fsynced, renamed over, directory fsynced', async () => {
    const r = recorder();
    const cp = new FileCheckpointer({ path, clock, files: r.files });
    const saved = track(cp.save({ assignments: [{ ip: '10.0.0.5', pod: 'a' }] }));
    await untilSettled(() => saved.state === 'resolved');
    expect(r.ops).toEqual([
      'write+fsync .checkpoint.json.tmp',
      'rename .checkpoint.json.tmp -> checkpoint.json',
      'fsync dir',
    ]);
    expect(await readdir(join(dir, 'state'))).toEqual(['checkpoint.json']);

    const again = new FileCheckpointer({ path, clock });
    expect(await again.load()).toEqual({
      kind: 'loaded',
      data: { assignments: [{ ip: '10.0.0.5', pod: 'a' }] },
      savedAt: clock.now(),
    });
  });

  it('coalesces a burst of saves into one write and resolves each only once it is durable', async () => {
    const r = recorder();
    let openGate!: () => void;
    r.gate = new Promise<void>((resolve) => (openGate = resolve));
    const cp = new FileCheckpointer({ path, clock, files: r.files });
    const saves = Array.from({ length: 200 }, (_, i) => track(cp.save({ pods: i + 1 })));
    await untilSettled(() => r.writesStarted === 1);
    await settle();
    // The write is held before it reaches the disk: nothing may be answered yet.
    expect(saves.every((s) => s.state === 'pending')).toBe(true);
    openGate();
    await untilSettled(() => saves.every((s) => s.state === 'resolved'));
    expect(r.writes).toHaveLength(1);
    expect(JSON.parse(r.writes[0]!)).toMatchObject({ data: { pods: 200 } });
  });

  it('takes a snapshotWhenWritten state when its write begins: one snapshot for a burst', async () => {
    const r = recorder();
    const cp = new FileCheckpointer({ path, clock, files: r.files });
    const pods: number[] = [];
    let snapshots = 0;
    const state = snapshotWhenWritten(() => {
      snapshots++;
      return { pods: [...pods] };
    });
    const saves = Array.from({ length: 50 }, (_, i) => {
      pods.push(i);
      return track(cp.save(state));
    });
    await untilSettled(() => saves.every((s) => s.state === 'resolved'));
    expect(snapshots).toBe(1);
    expect(JSON.parse(r.writes[0]!)).toMatchObject({ data: { pods: pods } });
    expect(await new FileCheckpointer({ path, clock }).load()).toMatchObject({ data: { pods } });
  });

  it('a save made alone is written at once, without waiting for a timer', async () => {
    const cp = new FileCheckpointer({ path, clock });
    const saved = track(cp.save({ n: 1 }));
    // The ManualClock never moves here: only real I/O stands between the save and its answer.
    await untilSettled(() => saved.state === 'resolved');
    expect(clock.pendingTimers()).toBe(0);
  });

  it('a save made during a write waits for the next write, which carries its state', async () => {
    const r = recorder();
    const cp = new FileCheckpointer({ path, clock, files: r.files });
    let openFirst!: () => void;
    let openSecond!: () => void;
    r.gate = new Promise<void>((resolve) => (openFirst = resolve));
    const first = track(cp.save({ n: 1 }));
    await untilSettled(() => r.writesStarted === 1);
    // The first write is now held at its gate; these two saves arrive during it.
    const second = track(cp.save({ n: 2 }));
    const third = track(cp.save({ n: 3 }));
    r.gate = new Promise<void>((resolve) => (openSecond = resolve));
    openFirst();
    await untilSettled(() => first.state === 'resolved');
    // The first write did not contain their state: they must still wait.
    await settle();
    expect([second.state, third.state]).toEqual(['pending', 'pending']);
    openSecond();
    await untilSettled(() => second.state === 'resolved' && third.state === 'resolved');
    expect(r.writes.map((w) => (JSON.parse(w) as { data: unknown }).data)).toEqual([{ n: 1 }, { n: 3 }]);
  });

  it('rejects the saves of a failed write and succeeds on the next one', async () => {
    const r = recorder();
    const cp = new FileCheckpointer({ path, clock, files: r.files });
    r.failNextWrite = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    const failed = [track(cp.save({ n: 1 })), track(cp.save({ n: 2 }))];
    await untilSettled(() => failed.every((s) => s.state === 'rejected'));
    expect(failed[0]!.error).toMatchObject({ code: 'ENOSPC' });

    const ok = track(cp.save({ n: 3 }));
    await untilSettled(() => ok.state === 'resolved');
    expect(await new FileCheckpointer({ path, clock }).load()).toMatchObject({
      kind: 'loaded',
      data: { n: 3 },
    });
  });

  it('rejects a state that is not JSON-serialisable', async () => {
    const cp = new FileCheckpointer({ path, clock });
    const bad = track(cp.save({ big: 1n }));
    await untilSettled(() => bad.state === 'rejected');
    expect(bad.error).toBeInstanceOf(TypeError);
  });

  it('flush writes at once and close refuses later saves', async () => {
    const r = recorder();
    const cp = new FileCheckpointer({ path, clock, files: r.files });
    const saved = track(cp.save({ n: 1 }));
    await cp.close();
    expect(saved.state).toBe('resolved');
    expect(r.writes).toHaveLength(1);
    await expect(cp.save({ n: 2 })).rejects.toBeInstanceOf(CheckpointClosedError);
    expect(clock.pendingTimers()).toBe(0);
  });

  it.each([
    ['broken JSON', '{"format":"eni-ipam-checkpoint","vers'],
    ['JSON of another shape', '{"enis":[]}'],
    [
      'a future version',
      '{"format":"eni-ipam-checkpoint","version":2,"savedAt":"2026-01-01T00:00:00Z","data":{}}',
    ],
    ['a bad time', '{"format":"eni-ipam-checkpoint","version":1,"savedAt":"yesterday","data":{}}'],
    ['an empty file', ''],
  ])('sets aside %s for inspection and reports it as corrupt', async (_what, content) => {
    await mkdir(join(dir, 'state'));
    await writeFile(path, content);
    clock = new ManualClock(Date.UTC(2026, 2, 3, 4, 5, 6, 7));
    const cp = new FileCheckpointer({ path, clock });
    const read = await cp.load();
    expect(read).toMatchObject({ kind: 'corrupt', movedTo: `${path}.corrupt-2026-03-03T04-05-06.007Z` });
    if (read.kind !== 'corrupt') throw new Error('unreachable');
    expect(read.reason.length).toBeGreaterThan(0);
    expect(await readFile(read.movedTo, 'utf8')).toBe(content);
    expect(await cp.load()).toEqual({ kind: 'missing' });

    const saved = track(cp.save({ rebuilt: true }));
    await untilSettled(() => saved.state === 'resolved');
    expect(await cp.load()).toMatchObject({ kind: 'loaded', data: { rebuilt: true } });
  });

  it('sets aside a checkpoint that cannot be read', async () => {
    await mkdir(path, { recursive: true });
    const cp = new FileCheckpointer({ path, clock });
    const read = await cp.load();
    expect(read).toMatchObject({ kind: 'corrupt', reason: expect.stringContaining('unreadable') as unknown });
  });

  it('removes a temp file left by a crash during a write, keeping the checkpoint', async () => {
    const cp = new FileCheckpointer({ path, clock });
    const saved = track(cp.save({ n: 1 }));
    await untilSettled(() => saved.state === 'resolved');
    await writeFile(join(dir, 'state', '.checkpoint.json.tmp'), '{"half');
    expect(await new FileCheckpointer({ path, clock }).load()).toMatchObject({
      kind: 'loaded',
      data: { n: 1 },
    });
    expect(await readdir(join(dir, 'state'))).toEqual(['checkpoint.json']);
  });
});

describe('a state that makes its own JSON text', () => {
  it('is written in the same envelope JSON.stringify makes, taken once per write', async () => {
    const r = recorder();
    const cp = new FileCheckpointer({ path, clock, files: r.files });
    const pods: string[] = [];
    let taken = 0;
    const state = textWhenWritten(() => {
      taken++;
      return JSON.stringify({ pods });
    });
    const saves = ['a', 'b', 'c'].map((pod) => {
      pods.push(pod);
      return track(cp.save(state));
    });
    await untilSettled(() => saves.every((s) => s.state === 'resolved'));
    expect(taken).toBe(1);
    expect(r.writes[0]).toBe(
      JSON.stringify({
        format: 'eni-ipam-checkpoint',
        version: 1,
        savedAt: new Date(clock.now()).toISOString(),
        data: { pods: ['a', 'b', 'c'] },
      }),
    );
    expect(await new FileCheckpointer({ path, clock }).load()).toMatchObject({ data: { pods } });

    const memory = new MemoryCheckpointer(clock);
    await memory.save(state);
    expect(await memory.load()).toMatchObject({ data: { pods: ['a', 'b', 'c'] } });
    expect(JSON.stringify({ wrapped: state })).toBe('{"wrapped":{"pods":["a","b","c"]}}');
  });

  it('writes text given as UTF-8 chunks byte for byte, on either kind of file operations', async () => {
    const bytes = Buffer.from(JSON.stringify({ pods: ['café', 'naïve', 'x'.repeat(5000)] }), 'utf8');
    // Cut inside the two-byte "é": only the concatenation has to be UTF-8.
    const cut = bytes.indexOf(Buffer.from('é', 'utf8')) + 1;
    const chunks = [bytes.subarray(0, cut), bytes.subarray(cut, cut + 7), bytes.subarray(cut + 7)];
    const state = textWhenWritten(() => chunks);
    for (const files of [nodeCheckpointFiles, memoryFsCheckpointFiles]) {
      const cp = new FileCheckpointer({ path, clock, files });
      await cp.save(state);
      expect(await readFile(path, 'utf8')).toBe(
        JSON.stringify({
          format: 'eni-ipam-checkpoint',
          version: 1,
          savedAt: new Date(clock.now()).toISOString(),
          data: JSON.parse(bytes.toString('utf8')) as unknown,
        }),
      );
    }
    const memory = new MemoryCheckpointer(clock);
    await memory.save(state);
    expect(await memory.load()).toMatchObject({ data: { pods: ['café', 'naïve', 'x'.repeat(5000)] } });
  });

  it('refuses a state that has no JSON text', async () => {
    const cp = new FileCheckpointer({ path, clock });
    await expect(cp.save(undefined)).rejects.toThrow(/must be JSON, not undefined/);
  });
});

describe('where the checkpoint lives', () => {
  it('writes synchronously on tmpfs and off the event loop elsewhere, judging a missing directory by its parent', () => {
    const types = new Map<string, number>([
      ['/run', TMPFS_MAGIC],
      ['/var/lib', 0xef53],
    ]);
    const statfs = (p: string): number => {
      const type = types.get(p);
      if (type === undefined) throw Object.assign(new Error(`ENOENT: ${p}`), { code: 'ENOENT' });
      return type;
    };
    expect(checkpointFilesFor('/run/eni-ipam/state', statfs)).toBe(memoryFsCheckpointFiles);
    expect(checkpointFilesFor('/var/lib/eni-ipam', statfs)).toBe(nodeCheckpointFiles);
    // Nothing on the way up can be read: the safe choice.
    expect(checkpointFilesFor('/nowhere/at/all', statfs)).toBe(nodeCheckpointFiles);
    const denied = (): number => {
      throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
    };
    expect(checkpointFilesFor('/run/eni-ipam', denied)).toBe(nodeCheckpointFiles);
  });

  it('with synchronous files, a save is durable within the turn its write starts in', async () => {
    const cp = new FileCheckpointer({ path, clock, files: memoryFsCheckpointFiles });
    expect(await cp.load()).toEqual({ kind: 'missing' });
    const saved = track(cp.save({ n: 1 }));
    // The write starts in the save's setImmediate, which runs before this one: no I/O turn between.
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(saved.state).toBe('resolved');
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ data: { n: 1 } });
    expect(await readdir(join(dir, 'state'))).toEqual(['checkpoint.json']);
    expect(await new FileCheckpointer({ path, clock, files: memoryFsCheckpointFiles }).load()).toMatchObject({
      kind: 'loaded',
      data: { n: 1 },
    });
  });

  it('with synchronous files, writes a group mid-turn once its oldest save has waited the bound', async () => {
    let monotonic = 100;
    const writes: string[] = [];
    const files: CheckpointFiles = {
      ...memoryFsCheckpointFiles,
      writeSynced: (p, text) => {
        writes.push(typeof text === 'string' ? text : Buffer.concat(text).toString('utf8'));
        return memoryFsCheckpointFiles.writeSynced(p, text);
      },
    };
    const cp = new FileCheckpointer({
      path,
      clock,
      files,
      maxGroupWaitMs: 0.5,
      monotonicMs: () => monotonic,
    });
    let turnEnded = false;
    setImmediate(() => (turnEnded = true));
    const first = track(cp.save({ n: 1 }));
    monotonic += 0.3;
    const second = track(cp.save({ n: 2 }));
    await Promise.resolve();
    expect(writes).toHaveLength(0);
    monotonic += 0.2;
    const third = cp.save({ n: 3 });
    await third;
    // Written and answered before the turn ended, in one write that holds the last state.
    expect(turnEnded).toBe(false);
    expect([first.state, second.state]).toEqual(['resolved', 'resolved']);
    expect(writes.map((w) => (JSON.parse(w) as { data: unknown }).data)).toEqual([{ n: 3 }]);
    // Saves within the bound wait for the end of the turn, and share its write (once the write
    // above has finished: a save made during a write goes into the next one).
    for (let i = 0; i < 5; i++) await Promise.resolve();
    const fourth = track(cp.save({ n: 4 }));
    monotonic += 0.1;
    const fifth = track(cp.save({ n: 5 }));
    await Promise.resolve();
    expect(writes).toHaveLength(1);
    await untilSettled(() => fourth.state === 'resolved' && fifth.state === 'resolved');
    expect(writes.map((w) => (JSON.parse(w) as { data: unknown }).data)).toEqual([{ n: 3 }, { n: 5 }]);
  });

  it('with synchronous files, a failed write rejects its saves and a later one succeeds', async () => {
    const blocked = join(dir, 'file-not-dir');
    await writeFile(blocked, 'x');
    const cp = new FileCheckpointer({
      path: join(blocked, 'checkpoint.json'),
      clock,
      files: memoryFsCheckpointFiles,
    });
    await expect(cp.save({ n: 1 })).rejects.toThrow(/EEXIST|ENOTDIR/);
    await rm(blocked);
    await cp.save({ n: 2 });
    expect(JSON.parse(await readFile(join(blocked, 'checkpoint.json'), 'utf8'))).toMatchObject({
      data: { n: 2 },
    });
  });
});

describe('MemoryCheckpointer', () => {
  it('keeps a copy of the last state, as a file would', async () => {
    const cp = new MemoryCheckpointer(clock);
    expect(await cp.load()).toEqual({ kind: 'missing' });
    const state = { pods: ['a'] };
    await cp.save(state);
    state.pods.push('b');
    expect(await cp.load()).toEqual({ kind: 'loaded', data: { pods: ['a'] }, savedAt: clock.now() });
    expect(cp.saves).toBe(1);
    await expect(cp.save({ n: 1n })).rejects.toBeInstanceOf(TypeError);
    await cp.close();
    await expect(cp.save({})).rejects.toBeInstanceOf(CheckpointClosedError);
  });
});
