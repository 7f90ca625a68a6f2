/**
 * startOnFreePorts against a real process that loses its port: another process binds the chosen
 * port between the choice and the peer's own bind, as happens when several suites start peers at
 * once. The peer is a small Node server; it prints what Node prints for a taken port and exits.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  freeLoopbackPort,
  holdLoopbackPort,
  spawnPeer,
  startOnFreePorts,
  waitUntilReady,
  type HeldPort,
  type PeerProcess,
} from './process.js';

const LISTENER = `
const port = Number(process.argv[1]);
require('node:net').createServer().listen(port, '127.0.0.1', () => console.log('listening on ' + port));
`;

const peers: PeerProcess[] = [];
const held: HeldPort[] = [];

afterEach(async () => {
  await Promise.all(peers.splice(0).map((peer) => peer.stop()));
  await Promise.all(held.splice(0).map((port) => port.release()));
});

/** Another process's socket on `port`, bound before the peer gets to it. */
async function takePort(port: number): Promise<void> {
  held.push(await holdLoopbackPort(port));
}

/** Starts the listener on `port`: ready once it says it listens (a probe by connecting would reach the rival). */
async function startListener(port: number): Promise<PeerProcess> {
  const peer = spawnPeer('listener', process.execPath, ['-e', LISTENER, String(port)]);
  peers.push(peer);
  await waitUntilReady(peer, () => Promise.resolve(peer.output().includes(`listening on ${port}`)), {
    timeoutMs: 10_000,
    intervalMs: 20,
  });
  return peer;
}

describe('startOnFreePorts', () => {
  it('starts the peer again on a fresh port when another process took the chosen one first', async () => {
    const tried: number[] = [];
    const { port, peer } = await startOnFreePorts(1, async ([chosen]) => {
      tried.push(chosen!);
      if (tried.length === 1) await takePort(chosen!);
      return { port: chosen!, peer: await startListener(chosen!) };
    });

    expect(tried).toHaveLength(2);
    expect(port).toBe(tried[1]);
    expect(port).not.toBe(tried[0]);
    expect(peer.hasExited()).toBe(false);
    // The first peer really lost its port: it said so and exited.
    expect(peers[0]!.hasExited()).toBe(true);
    expect(peers[0]!.output()).toMatch(/EADDRINUSE/);
  });

  it('restarts on the ports it is given, and moves to fresh ones only when one of them is lost', async () => {
    const kept = await freeLoopbackPort();
    await takePort(kept);
    const tried: number[][] = [];
    await startOnFreePorts(
      2,
      async (ports) => {
        tried.push(ports);
        for (const port of ports) await startListener(port);
      },
      { firstPorts: [kept, await freeLoopbackPort()] },
    );

    expect(tried).toHaveLength(2);
    expect(tried[0]![0]).toBe(kept);
    expect(tried[1]).not.toContain(kept);
  });

  it('fails with the last error once every attempt lost its port', async () => {
    const tried: number[] = [];
    const failure = startOnFreePorts(
      1,
      async ([chosen]) => {
        tried.push(chosen!);
        await takePort(chosen!);
        return startListener(chosen!);
      },
      { attempts: 3 },
    );

    await expect(failure).rejects.toThrow(/on each of 3 attempts/);
    expect(tried).toHaveLength(3);
    await expect(failure).rejects.toThrow(
      new RegExp(`ports ${tried[2]}\\): listener exited before it was ready[^]*EADDRINUSE`),
    );
  });

  it('does not retry a failure that is not a lost port', async () => {
    let calls = 0;
    const failure = startOnFreePorts(1, () => {
      calls += 1;
      return Promise.reject(new Error('the peer refused its configuration'));
    });

    await expect(failure).rejects.toThrow('the peer refused its configuration');
    expect(calls).toBe(1);
  });
});
