/**
 * Durable agent state. The content is opaque JSON (the datastore snapshot); this file only makes
 * it durable, atomically and cheaply:
 * - atomic: write a temp file in the same directory, fsync it, rename it over the checkpoint,
 *   fsync the directory, so a crash leaves either the old or the new checkpoint, never a torn one;
 * - changes appended: a state made with `journaledText` can also say what changed since it was last
 *   written. Those change records are appended to the checkpoint file, one line each, and fsynced,
 *   until they add up to the size of the whole text; then the whole text is written again (atomic,
 *   as above), which drops them. An ADD then costs a few hundred bytes written, not the node's
 *   whole state. A record torn by a crash is the file's last line, and its write never completed,
 *   so no answer waited for it: reading drops it;
 * - group commit: the saves made while a write is under way share the next write, and each save
 *   resolves only once a write containing its state is durable. An ADD is so answered only after
 *   its assignment is durable. A state made with `snapshotWhenWritten` is taken when its write
 *   begins: the saves of a group cost one snapshot;
 * - where: on tmpfs (the default, /var/run) a write is a copy into memory and fsync does nothing,
 *   so the file operations run synchronously, and a save is written as soon as the code that made
 *   it has run (a microtask): the answer goes out in the turn that read its request, without
 *   waiting for the other requests of a burst, nor after eight round trips through libuv's thread
 *   pool. On a disk they run off the event loop (fs/promises), so that a slow or hung disk cannot
 *   stall the rest of the agent, and the saves of one turn of the event loop share one write.
 * A checkpoint that cannot be read or parsed is moved aside for inspection, and the agent rebuilds
 * its state from EC2, the pod watch and the release spool.
 */
import {
  closeSync,
  constants as fsConstants,
  fdatasyncSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  statfsSync,
  unlinkSync,
  writeFileSync,
  writeSync,
  writevSync,
} from 'node:fs';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Clock } from '../time/clock.js';
import { CheckpointClosedError } from './errors.js';

export type CheckpointRead =
  | { kind: 'missing' }
  | {
      kind: 'loaded';
      data: unknown;
      /** When the whole state was written (the change records after it are newer). */
      savedAt: number;
      /**
       * The change records appended after it, in order, each parsed from its line (undefined for a
       * line that is not JSON); empty for a state written whole only.
       */
      changes: readonly unknown[];
      /** A last record was cut short by a crash and left out (no save had been answered for it). */
      tornChange?: true;
    }
  /** The checkpoint was unreadable or malformed; it now lives at `movedTo`. */
  | { kind: 'corrupt'; movedTo: string; reason: string };

export interface Checkpointer {
  /** The last durable state. */
  load(): Promise<CheckpointRead>;
  /**
   * Resolves once a write containing `state`, or a later state, is durable; rejects when that
   * write failed. `state` must be JSON-serialisable and either not mutated afterwards (a
   * snapshot) or made by `snapshotWhenWritten` (taken when the write begins, which is after this
   * call: the write holds everything done before the save).
   */
  save(state: unknown): Promise<void>;
  /** Writes what is pending now, and resolves once nothing is pending or being written. */
  flush(): Promise<void>;
  /** Flushes, then refuses further saves. */
  close(): Promise<void>;
}

/**
 * A state whose content is taken when the write that carries it serialises it (JSON.stringify
 * calls toJSON), not when it is saved: the saves of a burst share one write and so one snapshot.
 * `take` must return a JSON-serialisable snapshot of the state as it is at that moment.
 */
export function snapshotWhenWritten(take: () => unknown): unknown {
  return { toJSON: take };
}

/**
 * JSON text as the checkpoint writes it: a string, or UTF-8 chunks whose concatenation is the
 * text (written with one writev, so the text of a large state is never copied into one string).
 */
export type CheckpointText = string | readonly Uint8Array[];

function textOf(text: CheckpointText): string {
  return typeof text === 'string' ? text : Buffer.concat(text).toString('utf8');
}

/** A state taken as JSON text when its write begins; see textWhenWritten. */
class TextWhenWritten {
  constructor(readonly take: () => CheckpointText) {}

  /** For whatever serialises it as a value (JSON.stringify of an object that holds it). */
  toJSON(): unknown {
    return JSON.parse(textOf(this.take()));
  }
}

/**
 * Like snapshotWhenWritten, for a state that makes its own JSON text (cheaper than building the
 * objects for JSON.stringify when most of it is unchanged since the last write). `take` must
 * return the JSON text of a snapshot of the state as it is at that moment.
 */
export function textWhenWritten(take: () => CheckpointText): unknown {
  return new TextWhenWritten(take);
}

/** A state taken as JSON text, that can also say what changed; see journaledText. */
class JournaledText extends TextWhenWritten {
  constructor(
    take: () => CheckpointText,
    readonly changes: () => CheckpointText | undefined,
  ) {
    super(take);
  }

  /**
   * Taking the text starts a new list of changes, which the checkpoint would not know of: the
   * records it appends next would miss what changed before. Only the checkpoint takes it.
   */
  override toJSON(): unknown {
    throw new TypeError('a journaled checkpoint state is serialised by its checkpoint only');
  }
}

/**
 * Like textWhenWritten, for a state that can also give the changes made since its text was last
 * taken: `changes` returns them as change records, each one line of JSON ending in a newline
 * (nothing when nothing changed), or undefined when only the whole text can say what changed.
 * Calling either function starts the next list of changes. The checkpoint appends the records
 * after the whole text it last wrote, and load() returns them beside that text, for the owner of
 * the state to apply.
 */
export function journaledText(
  whole: () => CheckpointText,
  changes: () => CheckpointText | undefined,
): unknown {
  return new JournaledText(whole, changes);
}

function byteLength(text: CheckpointText): number {
  return typeof text === 'string'
    ? Buffer.byteLength(text, 'utf8')
    : text.reduce((n, c) => n + c.byteLength, 0);
}

/** The JSON text of a state as the checkpoint stores it. */
function stateText(state: unknown): CheckpointText {
  const text =
    state instanceof TextWhenWritten ? state.take() : (JSON.stringify(state) as string | undefined);
  if (text === undefined) throw new TypeError(`a checkpoint state must be JSON, not ${typeof state}`);
  return text;
}

/** `text` between `head` and `tail`, as chunks when it is chunks. */
function enclose(head: string, text: CheckpointText, tail: string): CheckpointText {
  if (typeof text === 'string') return `${head}${text}${tail}`;
  // forEach, not a spread: without an optimizing compiler (the agent runs with --no-opt) a spread
  // allocates an iterator result per chunk, and a node's text is hundreds of chunks.
  const chunks: Uint8Array[] = [Buffer.from(head, 'utf8')];
  text.forEach((chunk) => chunks.push(chunk));
  chunks.push(Buffer.from(tail, 'utf8'));
  return chunks;
}

const FORMAT = 'eni-ipam-checkpoint';
const VERSION = 1;

interface Envelope {
  format: typeof FORMAT;
  version: typeof VERSION;
  savedAt: string;
  data: unknown;
}

function isEnvelope(value: unknown): value is Envelope {
  if (value === null || typeof value !== 'object') return false;
  const v = value as Record<string, unknown>;
  return v.format === FORMAT && v.version === VERSION && typeof v.savedAt === 'string' && 'data' in v;
}

/** The file operations the checkpoint needs; tests wrap them to observe order and inject failures. */
export interface CheckpointFiles {
  /**
   * The operations complete before their promise is returned (memoryFsCheckpointFiles): a write
   * then never spans a turn of the event loop, and a group of saves may be written mid-turn.
   */
  readonly synchronous?: boolean;
  /** Rejects with code ENOENT when the file does not exist. */
  read(path: string): Promise<string>;
  /** Creates or truncates `path`, writes `text` and fsyncs the file before resolving. */
  writeSynced(path: string, text: CheckpointText): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  /** fsyncs a directory, making a rename in it durable. */
  syncDir(dir: string): Promise<void>;
  mkdirs(dir: string): Promise<void>;
  /** Removes `path`; a missing file is not an error. */
  remove(path: string): Promise<void>;
  /** Opens an existing file to append to it. */
  openAppend(path: string): Promise<AppendFile>;
}

/** A file open for appending. */
export interface AppendFile {
  /** Appends `text` and fsyncs its data before resolving. */
  appendSynced(text: CheckpointText): Promise<void>;
  close(): Promise<void>;
}

export const nodeCheckpointFiles: CheckpointFiles = {
  read: (path) => readFile(path, 'utf8'),
  async writeSynced(path, text) {
    const handle = await open(path, 'w', 0o600);
    try {
      await handle.writeFile(typeof text === 'string' ? text : Buffer.concat(text));
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
  rename: (from, to) => rename(from, to),
  async syncDir(dir) {
    const handle = await open(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  },
  mkdirs: async (dir) => {
    await mkdir(dir, { recursive: true, mode: 0o700 });
  },
  remove: async (path) => {
    await unlink(path).catch((err: unknown) => {
      if (errorCode(err) !== 'ENOENT') throw err;
    });
  },
  async openAppend(path) {
    const handle = await open(path, 'a');
    return {
      async appendSynced(text) {
        if (typeof text === 'string') await handle.appendFile(text, 'utf8');
        else await handle.writev(text);
        await handle.datasync();
      },
      close: () => handle.close(),
    };
  },
};

/** Runs a synchronous file operation as the promise CheckpointFiles returns: a throw rejects it. */
function now<T>(op: () => T): Promise<T> {
  try {
    return Promise.resolve(op());
  } catch (err) {
    return Promise.reject(err instanceof Error ? err : new Error(String(err)));
  }
}

/**
 * The same operations, done synchronously: for a checkpoint on tmpfs, where each is a memory copy
 * and an fsync returns at once. A write then costs no thread-pool round trip and no turn of the
 * event loop; on a disk it would block the agent for as long as the disk takes.
 */
export const memoryFsCheckpointFiles: CheckpointFiles = {
  synchronous: true,
  read: (path) => now(() => readFileSync(path, 'utf8')),
  writeSynced: (path, text) =>
    now(() => {
      const fd = openSync(path, 'w', 0o600);
      try {
        writeText(fd, text);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }),
  rename: (from, to) =>
    now(() => {
      renameSync(from, to);
    }),
  syncDir: (dir) =>
    now(() => {
      const fd = openSync(dir, fsConstants.O_RDONLY | fsConstants.O_DIRECTORY);
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
    }),
  mkdirs: (dir) =>
    now(() => {
      mkdirSync(dir, { recursive: true, mode: 0o700 });
    }),
  remove: (path) =>
    now(() => {
      try {
        unlinkSync(path);
      } catch (err) {
        if (errorCode(err) !== 'ENOENT') throw err;
      }
    }),
  openAppend: (path) =>
    now(() => {
      const fd = openSync(path, 'a');
      return {
        appendSynced: (text) =>
          now(() => {
            writeText(fd, text);
            fdatasyncSync(fd);
          }),
        close: () =>
          now(() => {
            closeSync(fd);
          }),
      };
    }),
};

/** Writes all of `text` at the file's position (at its end for a file opened to append). */
function writeText(fd: number, text: CheckpointText): void {
  if (typeof text === 'string') writeFileSync(fd, text, 'utf8');
  else writeChunks(fd, text);
}

/** Writes every chunk (libuv's writev writes them all unless the disk fails; this checks). */
function writeChunks(fd: number, chunks: readonly Uint8Array[]): void {
  const written = writevSync(fd, chunks);
  if (written === byteLength(chunks)) return;
  const rest = Buffer.concat(chunks).subarray(written);
  for (let at = 0; at < rest.length;) at += writeSync(fd, rest, at);
}

/** statfs(2)'s f_type of tmpfs (and of /dev/shm, /run, /var/run on systemd distributions). */
export const TMPFS_MAGIC = 0x01021994;

/**
 * The file operations for a checkpoint in `dir`: synchronous on tmpfs, off the event loop anywhere
 * else (and when the filesystem cannot be told). `dir` may not exist yet: its nearest existing
 * ancestor says where it will be made.
 */
export function checkpointFilesFor(
  dir: string,
  filesystemType: (path: string) => number = (path) => statfsSync(path).type,
): CheckpointFiles {
  for (let at = dir; ;) {
    try {
      return filesystemType(at) === TMPFS_MAGIC ? memoryFsCheckpointFiles : nodeCheckpointFiles;
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') return nodeCheckpointFiles;
    }
    const up = dirname(at);
    if (up === at) return nodeCheckpointFiles;
    at = up;
  }
}

function errorCode(err: unknown): string | undefined {
  return err instanceof Error && 'code' in err && typeof err.code === 'string' ? err.code : undefined;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

interface Waiter {
  resolve(): void;
  reject(err: unknown): void;
}

interface Batch {
  state: unknown;
  waiters: Waiter[];
}

export interface FileCheckpointerOptions {
  path: string;
  /** Dates each write (the envelope's savedAt). */
  clock: Clock;
  /** Default: checkpointFilesFor the checkpoint's directory. */
  files?: CheckpointFiles;
}

/**
 * Change records are appended until they add up to the whole text's size (so the file stays under
 * twice that, and reading it replays at most that much), and at least this many bytes.
 */
export const MIN_CHANGES_BYTES = 16 * 1024;

/** The checkpoint file as last written whole, open for its change records. */
interface Journal {
  /** The state whose whole text the file holds: only its changes describe that text. */
  state: JournaledText;
  file: AppendFile;
  /** Bytes that may still be appended before the whole text is written again. */
  room: number;
}

/**
 * What a checkpoint file's text holds: the whole state on its first line (older files hold only
 * it, without a newline), then one change record per line. Pure, so that a reader other than the
 * agent (a test watching a live agent's file) reads it the same way.
 */
export function readCheckpointText(
  text: string,
): Extract<CheckpointRead, { kind: 'loaded' }> | { kind: 'unreadable'; reason: string } {
  const firstEnd = text.indexOf('\n');
  let parsed: unknown;
  try {
    parsed = JSON.parse(firstEnd === -1 ? text : text.slice(0, firstEnd));
  } catch (err) {
    return { kind: 'unreadable', reason: `not JSON: ${describe(err)}` };
  }
  if (!isEnvelope(parsed)) return { kind: 'unreadable', reason: `not an ${FORMAT} version ${VERSION} file` };
  const savedAt = Date.parse(parsed.savedAt);
  if (Number.isNaN(savedAt))
    return { kind: 'unreadable', reason: `savedAt ${JSON.stringify(parsed.savedAt)} is not a time` };
  const lines = firstEnd === -1 ? [''] : text.slice(firstEnd + 1).split('\n');
  // The text after the last newline: empty, or a record whose append a crash cut short.
  const torn = lines.pop() !== '';
  const changes = lines.map((line) => {
    try {
      return JSON.parse(line) as unknown;
    } catch {
      return undefined;
    }
  });
  return { kind: 'loaded', data: parsed.data, savedAt, changes, ...(torn ? { tornChange: true } : {}) };
}

export class FileCheckpointer implements Checkpointer {
  private readonly path: string;
  private readonly tempPath: string;
  private readonly clock: Clock;
  private readonly files: CheckpointFiles;
  private pending: Batch | undefined;
  /** A write of `pending` is due (in a microtask with synchronous files, else at the end of the turn). */
  private scheduled = false;
  private writing: Promise<void> | undefined;
  /** Set while change records may be appended: the last write succeeded and left room. */
  private journal: Journal | undefined;
  private dirReady = false;
  private closed = false;

  constructor(options: FileCheckpointerOptions) {
    this.path = options.path;
    // Same directory: rename is atomic only within one filesystem.
    this.tempPath = join(dirname(options.path), `.${basename(options.path)}.tmp`);
    this.clock = options.clock;
    this.files = options.files ?? checkpointFilesFor(dirname(options.path));
  }

  async load(): Promise<CheckpointRead> {
    // A temp file is what a crash in the middle of a write leaves; the checkpoint itself is intact.
    await this.files.remove(this.tempPath);
    let text: string;
    try {
      text = await this.files.read(this.path);
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return { kind: 'missing' };
      return this.setAside(`unreadable: ${describe(err)}`);
    }
    const read = readCheckpointText(text);
    return read.kind === 'unreadable' ? this.setAside(read.reason) : read;
  }

  save(state: unknown): Promise<void> {
    if (this.closed) return Promise.reject(new CheckpointClosedError('checkpoint is closed'));
    return new Promise<void>((resolve, reject) => {
      if (this.pending) this.pending.state = state;
      else this.pending = { state, waiters: [] };
      this.pending.waiters.push({ resolve, reject });
      // While a write is under way the next one starts when it ends: the batch grows meanwhile.
      if (this.writing || this.scheduled) return;
      this.scheduled = true;
      const start = (): void => {
        this.scheduled = false;
        this.startWrite();
      };
      // Synchronous files: once the code that saved has run, so that the saves it made share the
      // write, and the answer goes out before the next request is read. Otherwise once the
      // requests that arrived with this one have been handled (setImmediate runs after this turn's
      // I/O callbacks), so that they share one trip through the thread pool.
      if (this.files.synchronous === true) queueMicrotask(start);
      else setImmediate(start);
    });
  }

  async flush(): Promise<void> {
    while (this.pending || this.writing) {
      this.startWrite();
      await this.writing?.catch(() => undefined);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    await this.closeJournal();
  }

  private startWrite(): void {
    if (this.writing || !this.pending) return;
    const batch = this.pending;
    this.pending = undefined;
    this.writing = this.write(batch.state).then(
      () => {
        for (const w of batch.waiters) w.resolve();
      },
      (err: unknown) => {
        for (const w of batch.waiters) w.reject(err);
      },
    );
    void this.writing.finally(() => {
      this.writing = undefined;
      this.startWrite();
    });
  }

  private async write(state: unknown): Promise<void> {
    if (
      state instanceof JournaledText &&
      this.journal?.state === state &&
      (await this.appendChanges(state, this.journal))
    )
      return;
    // The whole text: change records after it would describe the previous file.
    await this.closeJournal();
    // The envelope's fields in Envelope's order, as JSON.stringify would write them.
    const savedAt = new Date(this.clock.now()).toISOString();
    const text = enclose(
      `{"format":"${FORMAT}","version":${VERSION},"savedAt":"${savedAt}","data":`,
      stateText(state),
      '}\n',
    );
    const dir = dirname(this.path);
    if (!this.dirReady) {
      await this.files.mkdirs(dir);
      this.dirReady = true;
    }
    await this.files.writeSynced(this.tempPath, text);
    await this.files.rename(this.tempPath, this.path);
    await this.files.syncDir(dir);
    if (!(state instanceof JournaledText)) return;
    try {
      this.journal = {
        state,
        file: await this.files.openAppend(this.path),
        room: Math.max(MIN_CHANGES_BYTES, byteLength(text)),
      };
    } catch {
      // The state is durable; without the file open, its next write is whole again.
    }
  }

  /**
   * Appends the state's changes since its last write; false when they must be written whole
   * instead (only the whole text can say what changed, or the records would outgrow their room).
   * Once changes are taken they are in no later list: when their append fails, the journal is
   * closed, so that the next write is whole.
   */
  private async appendChanges(state: JournaledText, journal: Journal): Promise<boolean> {
    const changes = state.changes();
    if (changes === undefined) return false;
    const bytes = byteLength(changes);
    if (bytes === 0) return true;
    if (bytes > journal.room) return false;
    try {
      await journal.file.appendSynced(changes);
    } catch (err) {
      await this.closeJournal();
      throw err;
    }
    journal.room -= bytes;
    return true;
  }

  private async closeJournal(): Promise<void> {
    const journal = this.journal;
    if (!journal) return;
    this.journal = undefined;
    await journal.file.close().catch(() => undefined);
  }

  /** Keeps the bad file for inspection under a name that says when it was found. */
  private async setAside(reason: string): Promise<CheckpointRead> {
    const stamp = new Date(this.clock.now()).toISOString().replace(/:/g, '-');
    const movedTo = `${this.path}.corrupt-${stamp}`;
    await this.files.rename(this.path, movedTo);
    await this.files.syncDir(dirname(this.path));
    return { kind: 'corrupt', movedTo, reason };
  }
}

/** For tests: the same contract in memory, with a JSON round trip so tests see what a file would hold. */
export class MemoryCheckpointer implements Checkpointer {
  private stored: { text: string; savedAt: number } | undefined;
  private closed = false;
  /** Number of saves made durable, for tests that check how often the agent saves. */
  saves = 0;

  constructor(private readonly clock: Clock) {}

  load(): Promise<CheckpointRead> {
    if (!this.stored) return Promise.resolve({ kind: 'missing' });
    return Promise.resolve({
      kind: 'loaded',
      data: JSON.parse(this.stored.text) as unknown,
      savedAt: this.stored.savedAt,
      changes: [],
    });
  }

  save(state: unknown): Promise<void> {
    if (this.closed) return Promise.reject(new CheckpointClosedError('checkpoint is closed'));
    try {
      this.stored = { text: textOf(stateText(state)), savedAt: this.clock.now() };
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    this.saves++;
    return Promise.resolve();
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}
