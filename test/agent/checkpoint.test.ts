import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  checkpointFilesFor,
  FileCheckpointer,
  journaledText,
  memoryFsCheckpointFiles,
  MemoryCheckpointer,
  MIN_CHANGES_BYTES,
  nodeCheckpointFiles,
  snapshotWhenWritten,
  textWhenWritten,
  TMPFS_MAGIC,
  type CheckpointFiles,
  type CheckpointText,
} from '../../agent/checkpoint.js';
import { CheckpointClosedError } from '../../agent/errors.js';
import { ManualClock, settle } from '../../time/manual-clock.js';

interface Recorder {
  files: CheckpointFiles;
  ops: string[];
  writes: string[];
  appends: string[];
  /** When set, writeSynced waits for it before writing. */
  gate: Promise<void> | undefined;
  /** Writes that have reached writeSynced (held at the gate or not). */
  writesStarted: number;
  failNextWrite: Error | undefined;
  /** When set, the next append writes the first half of its text (as a filling disk would), then fails. */
  failNextAppend: Error | undefined;
}

function textOf(text: CheckpointText): string {
  return typeof text === 'string' ? text : Buffer.concat(text).toString('utf8');
}

function fileName(p: string): string {
  return p.split('/').pop() ?? '';
}

/** File operations that record what they do, on top of `base`. */
function recorder(base: CheckpointFiles = nodeCheckpointFiles): Recorder {
  const r: Recorder = {
    ops: [],
    writes: [],
    appends: [],
    gate: undefined,
    writesStarted: 0,
    failNextWrite: undefined,
    failNextAppend: undefined,
    files: {
      ...(base.synchronous === true ? { synchronous: true } : {}),
      read: (p) => base.read(p),
      async writeSynced(p, text) {
        r.writesStarted++;
        if (r.gate) await r.gate;
        const fail = r.failNextWrite;
        r.failNextWrite = undefined;
        if (fail) throw fail;
        r.ops.push(`write+fsync ${fileName(p)}`);
        r.writes.push(textOf(text));
        await base.writeSynced(p, text);
      },
      async rename(from, to) {
        r.ops.push(`rename ${fileName(from)} -> ${fileName(to)}`);
        await base.rename(from, to);
      },
      async syncDir(dir) {
        r.ops.push('fsync dir');
        await base.syncDir(dir);
      },
      mkdirs: (dir) => base.mkdirs(dir),
      remove: (p) => base.remove(p),
      async openAppend(p) {
        r.ops.push(`open-append ${fileName(p)}`);
        const file = await base.openAppend(p);
        return {
          async appendSynced(text) {
            const fail = r.failNextAppend;
            r.failNextAppend = undefined;
            if (fail) {
              const bytes = Buffer.from(textOf(text), 'utf8');
              await file.appendSynced([bytes.subarray(0, bytes.length >> 1)]);
              throw fail;
            }
            r.ops.push(`append+fsync ${fileName(p)}`);
            r.appends.push(textOf(text));
            await file.appendSynced(text);
          },
          async close() {
            r.ops.push(`close ${fileName(p)}`);
            await file.close();
          },
        };
      },
    },
  };
  return r;
}

/** The checkpoint file's first line: the whole state as JSON.stringify writes the envelope. */
function envelopeLine(savedAt: number, data: unknown): string {
  return `${JSON.stringify({
    format: 'eni-ipam-checkpoint',
    version: 1,
    savedAt: new Date(savedAt).toISOString(),
    data,
  })}\n`;
}

/**
 * A journaled state: a list of pods whose whole text is `{"pods":[...]}` and whose change records
 * are `{"added":pod}` lines for the pods added since either text was last taken.
 */
class PodList {
  readonly pods: string[] = [];
  /** When set, the next changes() says only the whole text can tell what changed. */
  layoutChanged = false;
  /** Give the records as UTF-8 chunks instead of a string. */
  asChunks = false;
  wholesTaken = 0;
  changesTaken = 0;
  private taken = 0;
  readonly state = journaledText(
    () => {
      this.wholesTaken++;
      this.startNextList();
      return JSON.stringify({ pods: this.pods });
    },
    () => {
      this.changesTaken++;
      const added = this.pods.slice(this.taken);
      const layoutChanged = this.layoutChanged;
      this.startNextList();
      if (layoutChanged) return undefined;
      const lines = added.map((pod) => `${JSON.stringify({ added: pod })}\n`);
      return this.asChunks ? lines.map((line) => Buffer.from(line, 'utf8')) : lines.join('');
    },
  );

  add(...pods: string[]): this {
    this.pods.push(...pods);
    return this;
  }

  private startNextList(): void {
    this.taken = this.pods.length;
    this.layoutChanged = false;
  }
}

const added = (...pods: string[]): string =>
  pods.map((pod) => `${JSON.stringify({ added: pod })}\n`).join('');

const fileKinds = [
  ['off the event loop (nodeCheckpointFiles)', nodeCheckpointFiles],
  ['synchronous (memoryFsCheckpointFiles)', memoryFsCheckpointFiles],
] as const;

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
      changes: [],
    });
    expect(await readFile(path, 'utf8')).toBe(
      envelopeLine(clock.now(), { assignments: [{ ip: '10.0.0.5', pod: 'a' }] }),
    );
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
    expect(r.writes[0]).toBe(envelopeLine(clock.now(), { pods: ['a', 'b', 'c'] }));
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
        envelopeLine(clock.now(), JSON.parse(bytes.toString('utf8')) as unknown),
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

const TMP_OPS = [
  'write+fsync .checkpoint.json.tmp',
  'rename .checkpoint.json.tmp -> checkpoint.json',
  'fsync dir',
];
const WHOLE_OPS = [...TMP_OPS, 'open-append checkpoint.json'];

describe.each(fileKinds)('change records, with file operations %s', (_kind, files) => {
  it('the first save writes the whole text, later saves append only their records, and load returns them in order', async () => {
    const r = recorder(files);
    const cp = new FileCheckpointer({ path, clock, files: r.files });
    const list = new PodList().add('a', 'b');
    await cp.save(list.state);
    const wholeAt = clock.now();
    const whole = envelopeLine(wholeAt, { pods: ['a', 'b'] });
    expect(await readFile(path, 'utf8')).toBe(whole);
    expect(r.ops).toEqual(WHOLE_OPS);

    await clock.advance(60_000);
    await cp.save(list.add('c').state);
    await cp.save(list.add('d', 'e').state);
    // A burst shares one append.
    const burst = [cp.save(list.add('f').state), cp.save(list.add('g').state)];
    await Promise.all(burst);
    expect(await readFile(path, 'utf8')).toBe(whole + added('c') + added('d', 'e') + added('f', 'g'));
    // No temp file, no rename: each record is appended to the checkpoint and fsynced.
    expect(r.ops.slice(WHOLE_OPS.length)).toEqual([
      'append+fsync checkpoint.json',
      'append+fsync checkpoint.json',
      'append+fsync checkpoint.json',
    ]);
    expect(r.appends).toEqual([added('c'), added('d', 'e'), added('f', 'g')]);
    expect(list.wholesTaken).toBe(1);

    const read = await new FileCheckpointer({ path, clock, files }).load();
    expect(read).toEqual({
      kind: 'loaded',
      data: { pods: ['a', 'b'] },
      // When the whole text was written: the records are newer.
      savedAt: wholeAt,
      changes: ['c', 'd', 'e', 'f', 'g'].map((pod) => ({ added: pod })),
    });
    expect(read).not.toHaveProperty('tornChange');
  });

  it('records given as UTF-8 chunks are appended byte for byte', async () => {
    const cp = new FileCheckpointer({ path, clock, files });
    const list = new PodList().add('a');
    list.asChunks = true;
    await cp.save(list.state);
    await cp.save(list.add('café', 'naïve').state);
    expect(await readFile(path, 'utf8')).toBe(
      envelopeLine(clock.now(), { pods: ['a'] }) + added('café', 'naïve'),
    );
    expect(await new FileCheckpointer({ path, clock, files }).load()).toMatchObject({
      changes: [{ added: 'café' }, { added: 'naïve' }],
    });
  });

  it('when only the whole text can say what changed, it is written whole again and the records are gone', async () => {
    const r = recorder(files);
    const cp = new FileCheckpointer({ path, clock, files: r.files });
    const list = new PodList().add('a');
    await cp.save(list.state);
    await cp.save(list.add('b').state);
    expect(await readFile(path, 'utf8')).toBe(envelopeLine(clock.now(), { pods: ['a'] }) + added('b'));

    await clock.advance(1000);
    list.add('c').layoutChanged = true;
    await cp.save(list.state);
    const whole = envelopeLine(clock.now(), { pods: ['a', 'b', 'c'] });
    expect(await readFile(path, 'utf8')).toBe(whole);
    // The old file's append handle is closed before the new file replaces it.
    expect(r.ops.slice(WHOLE_OPS.length + 1)).toEqual(['close checkpoint.json', ...WHOLE_OPS]);
    expect(await new FileCheckpointer({ path, clock, files }).load()).toEqual({
      kind: 'loaded',
      data: { pods: ['a', 'b', 'c'] },
      savedAt: clock.now(),
      changes: [],
    });

    // Appending resumes after the new whole text.
    await cp.save(list.add('d').state);
    expect(await readFile(path, 'utf8')).toBe(whole + added('d'));
  });

  it('records that would outgrow their room are written whole instead; the room is the larger of the whole text and MIN_CHANGES_BYTES', async () => {
    const r = recorder(files);
    const cp = new FileCheckpointer({ path, clock, files: r.files });
    const RECORD_BYTES = 4096;
    let next = 0;
    // A pod whose record is exactly RECORD_BYTES long.
    const bigPod = (): string => `pod-${next++}-`.padEnd(RECORD_BYTES - added('').length, 'x');
    const list = new PodList().add('a');
    await cp.save(list.state);
    const firstWhole = await readFile(path, 'utf8');
    expect(Buffer.byteLength(firstWhole)).toBeLessThan(MIN_CHANGES_BYTES);

    // The whole text is small: the room is MIN_CHANGES_BYTES, and a record that fills it exactly fits.
    const fit = Math.floor(MIN_CHANGES_BYTES / RECORD_BYTES);
    for (let i = 0; i < fit; i++) await cp.save(list.add(bigPod()).state);
    expect(r.appends).toHaveLength(fit);
    expect(Buffer.byteLength(await readFile(path, 'utf8'))).toBe(
      Buffer.byteLength(firstWhole) + fit * RECORD_BYTES,
    );
    await cp.save(list.add(bigPod()).state);
    expect(r.appends).toHaveLength(fit);
    expect(r.writes).toHaveLength(2);
    const secondWhole = envelopeLine(clock.now(), { pods: list.pods });
    expect(await readFile(path, 'utf8')).toBe(secondWhole);

    // Now the whole text is larger than MIN_CHANGES_BYTES: it sets the room.
    const wholeBytes = Buffer.byteLength(secondWhole);
    expect(wholeBytes).toBeGreaterThan(MIN_CHANGES_BYTES);
    const fitNow = Math.floor(wholeBytes / RECORD_BYTES);
    expect(fitNow).toBeGreaterThan(fit);
    for (let i = 0; i < fitNow; i++) await cp.save(list.add(bigPod()).state);
    expect(r.appends).toHaveLength(fit + fitNow);
    expect(r.writes).toHaveLength(2);
    // The file stays under twice the whole text.
    expect(Buffer.byteLength(await readFile(path, 'utf8'))).toBeLessThanOrEqual(2 * wholeBytes);
    await cp.save(list.add(bigPod()).state);
    expect(r.writes).toHaveLength(3);
    expect(await readFile(path, 'utf8')).toBe(envelopeLine(clock.now(), { pods: list.pods }));
    expect(await new FileCheckpointer({ path, clock, files }).load()).toMatchObject({
      data: { pods: list.pods },
      changes: [],
    });
  });

  it('a save with no changes writes nothing and resolves', async () => {
    const r = recorder(files);
    const cp = new FileCheckpointer({ path, clock, files: r.files });
    const list = new PodList().add('a');
    await cp.save(list.state);
    await cp.save(list.add('b').state);
    const content = await readFile(path, 'utf8');
    const ops = [...r.ops];
    const asked = list.changesTaken;
    await clock.advance(1000);
    await cp.save(list.state);
    expect(list.changesTaken).toBe(asked + 1);
    expect(r.ops).toEqual(ops);
    expect(await readFile(path, 'utf8')).toBe(content);
  });

  it('a failed append rejects its save, and the next save is written whole: nothing is lost', async () => {
    const r = recorder(files);
    const cp = new FileCheckpointer({ path, clock, files: r.files });
    const list = new PodList().add('a', 'b');
    await cp.save(list.state);
    const wholeAt = clock.now();
    await cp.save(list.add('c').state);

    r.failNextAppend = Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
    await expect(cp.save(list.add('d').state)).rejects.toMatchObject({ code: 'ENOSPC' });
    expect(r.ops.at(-1)).toBe('close checkpoint.json');
    // Were the node to crash now: the half-written record is the torn last line, and is left out.
    expect(await new FileCheckpointer({ path, clock, files }).load()).toEqual({
      kind: 'loaded',
      data: { pods: ['a', 'b'] },
      savedAt: wholeAt,
      changes: [{ added: 'c' }],
      tornChange: true,
    });

    await clock.advance(1000);
    const opsBefore = r.ops.length;
    await cp.save(list.add('e').state);
    expect(r.ops.slice(opsBefore)).toEqual(WHOLE_OPS);
    // 'd', whose append failed, is in the whole text; no stale or torn record is left after it.
    expect(await readFile(path, 'utf8')).toBe(envelopeLine(clock.now(), { pods: ['a', 'b', 'c', 'd', 'e'] }));
    const read = await new FileCheckpointer({ path, clock, files }).load();
    expect(read).toEqual({
      kind: 'loaded',
      data: { pods: ['a', 'b', 'c', 'd', 'e'] },
      savedAt: clock.now(),
      changes: [],
    });
  });

  it('close writes what is pending, closes the append file, and refuses later saves', async () => {
    const r = recorder(files);
    const cp = new FileCheckpointer({ path, clock, files: r.files });
    const list = new PodList().add('a');
    await cp.save(list.state);
    const last = track(cp.save(list.add('b').state));
    await cp.close();
    expect(last.state).toBe('resolved');
    expect(r.ops.slice(WHOLE_OPS.length)).toEqual(['append+fsync checkpoint.json', 'close checkpoint.json']);
    const content = await readFile(path, 'utf8');
    expect(content).toBe(envelopeLine(clock.now(), { pods: ['a'] }) + added('b'));

    await expect(cp.save(list.add('c').state)).rejects.toBeInstanceOf(CheckpointClosedError);
    await cp.close();
    expect(r.ops.filter((op) => op === 'close checkpoint.json')).toHaveLength(1);
    expect(await readFile(path, 'utf8')).toBe(content);
  });

  it('a non-journaled save closes the append file and is written whole; the next journaled save is whole too', async () => {
    const r = recorder(files);
    const cp = new FileCheckpointer({ path, clock, files: r.files });
    const list = new PodList().add('a');
    await cp.save(list.state);
    await cp.save({ plain: true });
    expect(r.ops.slice(WHOLE_OPS.length)).toEqual(['close checkpoint.json', ...TMP_OPS]);
    expect(await readFile(path, 'utf8')).toBe(envelopeLine(clock.now(), { plain: true }));
    await cp.save(list.add('b').state);
    expect(await readFile(path, 'utf8')).toBe(envelopeLine(clock.now(), { pods: ['a', 'b'] }));
  });

  it('records are appended only after the whole text of the same state; another journaled state is written whole', async () => {
    const cp = new FileCheckpointer({ path, clock, files });
    const first = new PodList().add('a');
    await cp.save(first.state);
    // A second state whose text this checkpoint never wrote: its records would describe changes
    // to a text that is not in the file.
    const second = new PodList().add('x');
    await cp.save(second.state);
    expect(await readFile(path, 'utf8')).toBe(envelopeLine(clock.now(), { pods: ['x'] }));
    await cp.save(second.add('y').state);
    expect(await readFile(path, 'utf8')).toBe(envelopeLine(clock.now(), { pods: ['x'] }) + added('y'));
    expect(await new FileCheckpointer({ path, clock, files }).load()).toMatchObject({
      data: { pods: ['x'] },
      changes: [{ added: 'y' }],
    });
  });

  it('load leaves out a last record torn by a crash and says so', async () => {
    await mkdir(join(dir, 'state'));
    const content = `${envelopeLine(clock.now(), { pods: ['a'] })}{"assigned":"10.0.0.9"}\n{"assig`;
    await writeFile(path, content);
    expect(await new FileCheckpointer({ path, clock, files }).load()).toEqual({
      kind: 'loaded',
      data: { pods: ['a'] },
      savedAt: clock.now(),
      changes: [{ assigned: '10.0.0.9' }],
      tornChange: true,
    });
    expect(await readdir(join(dir, 'state'))).toEqual(['checkpoint.json']);
  });

  it('load keeps a record line that is not JSON as undefined, in its place, without setting the checkpoint aside', async () => {
    await mkdir(join(dir, 'state'));
    const content = `${envelopeLine(clock.now(), { pods: ['a'] })}{"added":"b"}\nnot json\n{"added":"c"}\n`;
    await writeFile(path, content);
    const read = await new FileCheckpointer({ path, clock, files }).load();
    expect(read).toEqual({
      kind: 'loaded',
      data: { pods: ['a'] },
      savedAt: clock.now(),
      changes: [{ added: 'b' }, undefined, { added: 'c' }],
    });
    expect(read.kind === 'loaded' && read.changes.length).toBe(3);
    expect(read).not.toHaveProperty('tornChange');
    expect(await readdir(join(dir, 'state'))).toEqual(['checkpoint.json']);
    expect(await readFile(path, 'utf8')).toBe(content);
  });

  it('load reads a checkpoint written by an older version (one line, no newline) with no records', async () => {
    await mkdir(join(dir, 'state'));
    await writeFile(path, envelopeLine(clock.now(), { pods: ['a'] }).trimEnd());
    const read = await new FileCheckpointer({ path, clock, files }).load();
    expect(read).toEqual({ kind: 'loaded', data: { pods: ['a'] }, savedAt: clock.now(), changes: [] });
    expect(read).not.toHaveProperty('tornChange');
  });

  it('a journaled state cannot be serialised behind its checkpoint, which would lose its next changes', () => {
    let taken = 0;
    const state = journaledText(
      () => {
        taken++;
        return '{}';
      },
      () => undefined,
    );
    expect(() => JSON.stringify({ state })).toThrow(/serialised by its checkpoint only/);
    expect(taken).toBe(0);
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
    // The write starts in a microtask once the code that saved has run: before any I/O turn.
    await new Promise<void>((resolve) => setImmediate(resolve));
    expect(saved.state).toBe('resolved');
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ data: { n: 1 } });
    expect(await readdir(join(dir, 'state'))).toEqual(['checkpoint.json']);
    expect(await new FileCheckpointer({ path, clock, files: memoryFsCheckpointFiles }).load()).toMatchObject({
      kind: 'loaded',
      data: { n: 1 },
    });
  });

  it('with synchronous files, the saves of one synchronous run share one write, durable before the next I/O turn', async () => {
    const r = recorder(memoryFsCheckpointFiles);
    const cp = new FileCheckpointer({ path, clock, files: r.files });
    // Queued before the saves: it runs at the start of the next turn's check phase, after any
    // I/O callbacks; the group must be on disk and answered by then.
    const atNextTurn = new Promise<{ states: string[]; onDisk: string }>((resolve) => {
      setImmediate(() => {
        resolve({ states: saves.map((s) => s.state), onDisk: readFileSync(path, 'utf8') });
      });
    });
    const saves = [1, 2, 3].map((n) => track(cp.save({ n })));
    // Nothing is written while the code that saved is still running.
    expect(r.writesStarted).toBe(0);
    const seen = await atNextTurn;
    expect(seen.states).toEqual(['resolved', 'resolved', 'resolved']);
    expect(seen.onDisk).toBe(envelopeLine(clock.now(), { n: 3 }));
    expect(r.writes).toEqual([envelopeLine(clock.now(), { n: 3 })]);

    // A save made after that group's write gets a write of its own, again within its turn.
    await clock.advance(1000);
    let turnEnded = false;
    setImmediate(() => (turnEnded = true));
    await cp.save({ n: 4 });
    expect(turnEnded).toBe(false);
    expect(r.writes.map((w) => (JSON.parse(w) as { data: unknown }).data)).toEqual([{ n: 3 }, { n: 4 }]);
    expect(await readFile(path, 'utf8')).toBe(envelopeLine(clock.now(), { n: 4 }));
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
    expect(await cp.load()).toEqual({
      kind: 'loaded',
      data: { pods: ['a'] },
      savedAt: clock.now(),
      changes: [],
    });
    expect(cp.saves).toBe(1);
    await expect(cp.save({ n: 1n })).rejects.toBeInstanceOf(TypeError);
    await cp.close();
    await expect(cp.save({})).rejects.toBeInstanceOf(CheckpointClosedError);
  });
});
