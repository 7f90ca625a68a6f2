import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileCheckpointer, nodeCheckpointFiles } from '../../agent/checkpoint.js';
import type { CniBackend } from '../../agent/cni-backend.js';
import { CniLiveness, WriteTrackingCheckpointer } from '../../agent/cni-liveness.js';
import { CniServer } from '../../agent/cni-server.js';
import { systemClock } from '../../time/clock.js';

/** A backend that answers STATUS only: these tests are about the endpoint, not about addresses. */
const statusOnly = {
  status: () => Promise.resolve({ kind: 'ok' }),
} as unknown as CniBackend;

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ path });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => {
      resolve(false);
    });
  });
}

describe('CniLiveness', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    cleanups.length = 0;
  });

  async function node(writeError?: { on: boolean }) {
    const root = await mkdtemp(join(tmpdir(), 'parity-liveness-'));
    const stateDir = join(root, 'eni-ipam');
    await mkdir(stateDir);
    const socketPath = join(stateDir, 'ipam.sock');
    const checkpointer = new WriteTrackingCheckpointer(
      new FileCheckpointer({
        path: join(stateDir, 'checkpoint.json'),
        clock: systemClock,
        files: {
          ...nodeCheckpointFiles,
          writeSynced: (path, text) => {
            if (writeError?.on === true) {
              const err = new Error(
                `ENOSPC: no space left on device, open '${path}'`,
              ) as NodeJS.ErrnoException;
              err.code = 'ENOSPC';
              return Promise.reject(err);
            }
            return nodeCheckpointFiles.writeSynced(path, text);
          },
        },
      }),
    );
    let server = new CniServer({ socketPath, backend: statusOnly });
    await server.start();
    const liveness = new CniLiveness({
      socketPath,
      stateDir,
      clock: systemClock,
      writeFailure: () => checkpointer.failure(),
      rewrite: () => checkpointer.rewrite(),
      relisten: async () => {
        await server.close();
        server = new CniServer({ socketPath, backend: statusOnly });
        await server.start();
      },
      intervalMs: 60_000,
    });
    cleanups.push(async () => {
      await liveness.close();
      await server.close();
      await rm(root, { recursive: true, force: true });
    });
    return {
      stateDir,
      socketPath,
      checkpointer,
      liveness,
      checkpointPath: join(stateDir, 'checkpoint.json'),
    };
  }

  it('is alive while the socket, the state directory and checkpoint writes work', async () => {
    const { liveness, checkpointer } = await node();
    await checkpointer.save({ datastore: {} });
    expect(await liveness.check()).toEqual({ alive: true, reason: 'serving CNI calls' });
  });

  it('fails while the state directory is gone, and re-creates the socket once it is back', async () => {
    const { liveness, stateDir, socketPath, checkpointer, checkpointPath } = await node();
    await checkpointer.save({ datastore: { b: 0 } });
    await rm(stateDir, { recursive: true });
    expect(await canConnect(socketPath)).toBe(false);
    const dead = await liveness.check();
    expect(dead.alive).toBe(false);
    expect(dead.reason).toBe(`state directory ${stateDir} is gone: the checkpoint cannot be written`);

    // A write made meanwhile fails; the check writes it again once the directory is back.
    await expect(checkpointer.save({ datastore: { b: 1 } })).rejects.toThrow(/ENOENT/);
    await mkdir(stateDir);
    expect(await liveness.check()).toEqual({ alive: true, reason: 'serving CNI calls' });
    expect(await canConnect(socketPath)).toBe(true);
    expect(JSON.parse(await readFile(checkpointPath, 'utf8'))).toMatchObject({
      data: { datastore: { b: 1 } },
    });
  });

  it('re-creates a socket file that was removed while its directory stayed', async () => {
    const { liveness, socketPath } = await node();
    await rm(socketPath);
    expect(await canConnect(socketPath)).toBe(false);
    expect((await liveness.check()).alive).toBe(true);
    expect(await canConnect(socketPath)).toBe(true);
  });

  it('fails while checkpoint writes fail (a full disk fails every ADD), and recovers with them', async () => {
    const disk = { on: true };
    const { liveness, checkpointer, checkpointPath } = await node(disk);
    await expect(checkpointer.save({ datastore: { a: 1 } })).rejects.toThrow(/ENOSPC/);
    const dead = await liveness.check();
    expect(dead.alive).toBe(false);
    expect(dead.reason).toMatch(
      /^checkpoint writes fail, so every ADD fails: ENOSPC: no space left on device/,
    );

    expect((await liveness.check()).alive).toBe(false);
    // Space comes back: the check writes the state again by itself, without waiting for an ADD.
    disk.on = false;
    expect(await liveness.check()).toEqual({ alive: true, reason: 'serving CNI calls' });
    expect(JSON.parse(await readFile(checkpointPath, 'utf8'))).toMatchObject({
      data: { datastore: { a: 1 } },
    });
  });
});
