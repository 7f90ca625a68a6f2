/**
 * Debian's redis-server on a random loopback port, without persistence, for the shared EC2 budget
 * (bottleneck's Redis datastore). Each call starts a separate server with its own empty data dir.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnPeer, startOnFreePorts, waitUntilReady } from './process.js';
import { requireOnPath } from './paths.js';

const READY_TIMEOUT_MS = 15_000;

export interface RedisPeer {
  readonly host: string;
  readonly port: number;
  /** redis://127.0.0.1:PORT */
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** `port`: a given loopback port (a restart on the same address); a free one by default. */
export async function startRedis(port?: number): Promise<RedisPeer> {
  if (port === undefined) return startOnFreePorts(1, ([free]) => startRedis(free));
  const redisServer = requireOnPath('redis', 'redis-server');
  const dataDir = await mkdtemp(join(tmpdir(), 'eni-ipam-redis-'));
  const peer = spawnPeer('redis-server', redisServer, [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dataDir,
    // A test budget needs no durability; no RDB/AOF files and no fork at exit.
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
  ]);
  const stop = async (): Promise<void> => {
    await peer.stop();
    await rm(dataDir, { recursive: true, force: true });
  };
  try {
    await waitUntilReady(peer, () => redisPing('127.0.0.1', port), { timeoutMs: READY_TIMEOUT_MS });
  } catch (err) {
    await stop();
    throw err;
  }
  return { host: '127.0.0.1', port, url: `redis://127.0.0.1:${port}`, pid: peer.pid, stop };
}

/** One PING in the inline protocol; true on +PONG. Avoids a client library's reconnect logic. */
export function redisPing(host: string, port: number): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host, port });
    let reply = '';
    socket.setTimeout(1_000, () => socket.destroy(new Error('PING timed out')));
    socket.once('error', reject);
    socket.on('data', (chunk: Buffer) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) {
        socket.end();
        resolve(reply.startsWith('+PONG'));
      }
    });
    socket.once('connect', () => socket.write('PING\r\n'));
  });
}
