import { appendFile, mkdir, mkdtemp, readFile, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  FileCheckpointer,
  memoryFsCheckpointFiles,
  MemoryCheckpointer,
  type Checkpointer,
  type CheckpointRead,
} from '../../agent/checkpoint.js';
import { createLogger, silentLogger } from '../../agent/logger.js';
import { NodeAgent } from '../../agent/node-agent.js';
import { isQuarantineKey, isRecoveredKey, type SandboxAddresses } from '../../ipam/ownership-recovery.js';
import { ManualClock } from '../../time/manual-clock.js';
import { AgentHarness, settings } from './fakes/agent-harness.js';
import { CrashableCheckpointer } from './fakes/crashable-checkpointer.js';
import { failures, okAddresses, quiesce, settleAll } from './fakes/agent-invariants.js';
import { FakeNodePods } from './fakes/fake-node-pods.js';

/** How the checkpoint file is lost between two agent processes. */
const LOSSES: Record<string, (path: string) => Promise<void>> = {
  deleted: (path) => unlink(path),
  truncated: (path) => truncate(path, 40),
  corrupt: (path) => writeFile(path, '{"format":"eni-ipam-checkpoint","version":1,"savedAt":"x", garbage'),
  'newer version': async (path) => {
    const envelope = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    await writeFile(path, JSON.stringify({ ...envelope, version: 2 }));
  },
  'replaced by a directory': async (path) => {
    await unlink(path);
    await mkdir(path);
  },
  'one entry unreadable': async (path) => {
    const envelope = JSON.parse(await readFile(path, 'utf8')) as {
      data: { datastore: { assigned: { pod: { name: string } }[] } };
    };
    envelope.data.datastore.assigned[0]!.pod.name = '';
    await writeFile(path, JSON.stringify(envelope));
  },
};

/**
 * The checkpoint as the file layer reads it back after the loss; saves go to memory (the simulated
 * clock cannot wait for real file I/O). What the agent sees at start-up is exactly what
 * FileCheckpointer.load() returned for the damaged file.
 */
class ReadOnceCheckpointer extends MemoryCheckpointer {
  constructor(
    clock: ManualClock,
    private readonly first: CheckpointRead,
  ) {
    super(clock);
  }
  override load(): Promise<CheckpointRead> {
    return Promise.resolve(this.first);
  }
  /** What this process made durable, for the next one. */
  durable(): Promise<CheckpointRead> {
    return super.load();
  }
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'reliab-ownership-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fileReadAfter(loss: (path: string) => Promise<void>, state: unknown): Promise<CheckpointRead> {
  const path = join(dir, 'checkpoint.json');
  const clock = new ManualClock();
  const writer = new FileCheckpointer({ path, clock });
  const saved = writer.save(state);
  await clock.advance(1);
  await saved;
  await loss(path);
  return new FileCheckpointer({ path, clock }).load();
}

describe('an address a running pod holds is never given to another pod, whatever was lost', () => {
  for (const [lossName, loss] of Object.entries(LOSSES)) {
    for (const podsKnown of [true, false]) {
      const api = podsKnown ? 'API server up' : 'API server also lost';
      it(`checkpoint ${lossName}, ${api}`, async () => {
        const pods = new FakeNodePods();
        const dropped: number[] = [];
        const h = new AgentHarness(settings({ WARM_IP_TARGET: '3' }), 'm5.large', {
          pods,
          onCheckpointEntriesDropped: (n) => dropped.push(n),
        });
        await h.start();
        const ids = ['a', 'b', 'c', 'd', 'e'];
        const first = await settleAll(
          h,
          ids.map((id) => h.add(id)),
        );
        expect(failures(first)).toEqual([]);
        const held = okAddresses(first);
        for (const [i, id] of ids.entries())
          pods.add({ uid: `uid-${id}`, name: `pod-${id}`, podIps: [held[i]!] });
        await quiesce(h);
        h.kill();

        const stored = await h.checkpointer.load();
        expect(stored.kind).toBe('loaded');
        const read = await fileReadAfter(loss, stored.kind === 'loaded' ? stored.data : undefined);
        if (!podsKnown) pods.setSynced(false);
        const checkpointer: Checkpointer = new ReadOnceCheckpointer(h.clock, read);
        h.agent = new NodeAgent({
          settings: settings({ WARM_IP_TARGET: '3' }),
          ec2: h.ec2,
          clock: h.clock,
          logger: silentLogger(),
          checkpointer,
          pods,
          onCheckpointEntriesDropped: (n) => dropped.push(n),
        });
        await h.start();

        const next = await settleAll(
          h,
          ['f', 'g', 'h', 'i', 'j'].map((id) => h.add(id)),
          120_000,
        );
        expect(failures(next).map((f) => f.message)).toEqual([]);
        const given = okAddresses(next);
        expect(
          given.filter((a) => held.includes(a)),
          'addresses of running pods handed out again',
        ).toEqual([]);
        expect(new Set(given).size).toBe(given.length);

        // Once the pods are known, each running pod's address is recorded as its own again.
        pods.setSynced(true);
        await h.run(1_000);
        const assignments = h.agent.view().datastore.assignments();
        expect(assignments.filter((a) => isQuarantineKey(a.key))).toEqual([]);
        for (const [i, id] of ids.entries()) {
          const a = assignments.find((x) => x.address === held[i]);
          expect(a?.pod.uid, `${held[i]} belongs to pod ${id}`).toBe(`uid-${id}`);
        }
        if (lossName === 'one entry unreadable') expect(dropped).toEqual([1]);
        h.kill();
      });
    }
  }

  it('keeps quarantined addresses across another restart before the pods are known', async () => {
    const pods = new FakeNodePods();
    const h = new AgentHarness(settings({ WARM_IP_TARGET: '3' }), 'm5.large', { pods });
    await h.start();
    const first = okAddresses(
      await settleAll(
        h,
        ['a', 'b'].map((id) => h.add(id)),
      ),
    );
    await quiesce(h);
    h.kill();
    pods.add({ uid: 'uid-a', name: 'pod-a', podIps: [first[0]!] });
    pods.add({ uid: 'uid-b', name: 'pod-b', podIps: [first[1]!] });
    pods.setSynced(false);
    // Lost once: the second process quarantines, then dies before the API server returns.
    const lost = new ReadOnceCheckpointer(h.clock, { kind: 'missing' });
    h.agent = new NodeAgent({
      settings: settings({ WARM_IP_TARGET: '3' }),
      ec2: h.ec2,
      clock: h.clock,
      logger: silentLogger(),
      checkpointer: lost,
      pods,
    });
    await h.start();
    await quiesce(h);
    h.kill();
    const carried = await lost.durable();
    if (carried.kind !== 'loaded') throw new Error('the second process saved nothing');
    // The third process reads what the second one saved.
    const saved = new MemoryCheckpointer(h.clock);
    await saved.save(carried.data);
    h.agent = new NodeAgent({
      settings: settings({ WARM_IP_TARGET: '3' }),
      ec2: h.ec2,
      clock: h.clock,
      logger: silentLogger(),
      checkpointer: saved,
      pods,
    });
    await h.start();
    const next = okAddresses(
      await settleAll(
        h,
        ['c', 'd', 'e'].map((id) => h.add(id)),
        120_000,
      ),
    );
    expect(next.filter((a) => first.includes(a))).toEqual([]);
    h.kill();
  });
});

describe('the container runtime’s sandboxes', () => {
  /** Three pods a, b, c hold addresses; the checkpoint and the API server are both lost. */
  async function lostEverything(
    runtimeOf: (held: string[]) => () => Promise<SandboxAddresses[]>,
    lines: string[] = [],
    apiUp = false,
  ) {
    const pods = new FakeNodePods();
    const h = new AgentHarness(settings({ WARM_IP_TARGET: '3' }), 'm5.large', { pods });
    await h.start();
    const ids = ['a', 'b', 'c'];
    const held = okAddresses(
      await settleAll(
        h,
        ids.map((id) => h.add(id)),
      ),
    );
    for (const [i, id] of ids.entries())
      pods.add({ uid: `uid-${id}`, name: `pod-${id}`, podIps: [held[i]!] });
    await quiesce(h);
    h.kill();
    pods.setSynced(apiUp);
    h.agent = new NodeAgent({
      settings: settings({ WARM_IP_TARGET: '3' }),
      ec2: h.ec2,
      clock: h.clock,
      logger: createLogger({
        level: 'info',
        clock: h.clock,
        destination: { write: (line: string) => void lines.push(line) },
      }),
      checkpointer: new ReadOnceCheckpointer(h.clock, { kind: 'missing' }),
      pods,
      runtimeSandboxes: runtimeOf(held),
    });
    await h.start();
    const holder = (address: string) =>
      h.agent
        .view()
        .datastore.assignments()
        .find((x) => x.address === address);
    return { h, pods, held, holder };
  }

  const sandboxOf = (id: string, ips: string[]): SandboxAddresses => ({
    uid: `uid-${id}`,
    namespace: 'default',
    name: `pod-${id}`,
    ips,
  });

  it('resolve the quarantine with the checkpoint lost and the API server unreachable', async () => {
    // c's sandbox is still being set up: it reports no address yet.
    const { h, pods, held, holder } = await lostEverything(
      (held) => () =>
        Promise.resolve([sandboxOf('a', [held[0]!]), sandboxOf('b', [held[1]!]), sandboxOf('c', [])]),
    );
    await h.run(1_000);
    for (const [i, id] of ['a', 'b'].entries()) {
      const a = holder(held[i]!);
      expect(a?.pod, `${held[i]} adopted by pod ${id} from its sandbox`).toEqual({
        uid: `uid-${id}`,
        namespace: 'default',
        name: `pod-${id}`,
      });
      expect(isRecoveredKey(a!.key)).toBe(true);
    }
    // The runtime's silence frees nothing: c's address waits for the API server.
    expect(isQuarantineKey(holder(held[2]!)!.key)).toBe(true);
    const next = okAddresses(
      await settleAll(
        h,
        ['f', 'g', 'h'].map((id) => h.add(id)),
        120_000,
      ),
    );
    expect(next.filter((a) => held.includes(a))).toEqual([]);
    // The API server answers: c's address is c's.
    pods.setSynced(true);
    await h.run(1_000);
    expect(holder(held[2]!)?.pod.uid).toBe('uid-c');
    h.kill();
  });

  it('a runtime that cannot answer leaves the quarantine to the API server, logged once, until it answers', async () => {
    let up = false;
    let asked = 0;
    const lines: string[] = [];
    const { h, held, holder } = await lostEverything(
      (held) => () => {
        asked++;
        return up
          ? Promise.resolve([sandboxOf('a', [held[0]!])])
          : Promise.reject(new Error('connect ENOENT /run/containerd/containerd.sock'));
      },
      lines,
    );
    await h.run(35_000);
    expect(asked).toBeGreaterThan(2);
    for (const address of held) expect(isQuarantineKey(holder(address)!.key)).toBe(true);
    expect(lines.filter((l) => l.includes('container runtime unknown'))).toHaveLength(1);
    up = true;
    await h.run(15_000);
    expect(holder(held[0]!)?.pod.uid).toBe('uid-a');
    expect(isQuarantineKey(holder(held[1]!)!.key)).toBe(true);
    h.kill();
  });

  it('a sandbox and the API server naming different pods keep the address quarantined', async () => {
    const { h, held, holder } = await lostEverything(
      (held) => () => Promise.resolve([sandboxOf('someone-else', [held[0]!])]),
      [],
      true,
    );
    await h.run(1_000);
    expect(isQuarantineKey(holder(held[0]!)!.key)).toBe(true);
    expect(holder(held[1]!)?.pod.uid).toBe('uid-b');
    h.kill();
  });
});

describe('adopted addresses', () => {
  it('are released when their pod reports another address (its sandbox was recreated)', async () => {
    const pods = new FakeNodePods();
    const h = new AgentHarness(settings({ WARM_IP_TARGET: '3' }), 'm5.large', { pods });
    await h.start();
    const [held] = okAddresses(await settleAll(h, [h.add('a')]));
    pods.add({ uid: 'uid-a', name: 'pod-a', podIps: [held!] });
    await quiesce(h);
    h.kill();
    h.agent = new NodeAgent({
      settings: settings({ WARM_IP_TARGET: '3' }),
      ec2: h.ec2,
      clock: h.clock,
      logger: silentLogger(),
      checkpointer: new ReadOnceCheckpointer(h.clock, { kind: 'missing' }),
      pods,
    });
    await h.start();
    const adopted = () =>
      h.agent
        .view()
        .datastore.assignments()
        .find((x) => x.address === held);
    expect(adopted()?.pod.uid).toBe('uid-a');
    // Kubelet recreated the sandbox (a new ADD) and now reports its new address.
    const [next] = okAddresses(await settleAll(h, [h.add('a-new-sandbox')]));
    pods.add({ uid: 'uid-a', name: 'pod-a', podIps: [next!] });
    await h.run(1_000);
    expect(adopted()).toBeUndefined();
    h.kill();
  });
});

describe('what the agent accepts at ADD, the checkpoint can store', () => {
  it('an ADD without a pod uid survives a restart, with every other entry', async () => {
    const h = new AgentHarness(settings({ WARM_IP_TARGET: '3' }), 'm5.large');
    await h.start();
    const done = await settleAll(h, [
      h.agent.backend.add(
        {
          op: 'add',
          containerId: 'nouid',
          ifname: 'eth0',
          netns: '/x',
          network: 'eni-ipam',
          pod: { namespace: 'default', name: 'p' },
        },
        new AbortController().signal,
      ),
      h.add('other'),
    ]);
    expect(failures(done)).toEqual([]);
    await quiesce(h);
    await h.restart();
    const keys = h.agent
      .view()
      .datastore.assignments()
      .map((a) => a.key.containerId)
      .sort();
    expect(keys).toEqual(['nouid', 'other']);
  });
});

describe('a checkpoint written whole, then as change records', () => {
  for (const torn of [false, true]) {
    it(`a restart after kill -9 restores every assignment from the whole text and the records after it${torn ? ', a last record torn' : ''}`, async () => {
      const path = join(dir, 'checkpoint.json');
      let process: CrashableCheckpointer | undefined;
      const dropped: number[] = [];
      // The file operations of a checkpoint on tmpfs: synchronous, so simulated time needs no waiting.
      const h = new AgentHarness(settings({ WARM_IP_TARGET: '3' }), 'm5.large', {}, (harness) => {
        process = new CrashableCheckpointer(
          new FileCheckpointer({ path, clock: harness.clock, files: memoryFsCheckpointFiles }),
        );
        return new NodeAgent({
          settings: settings({ WARM_IP_TARGET: '3' }),
          ec2: harness.ec2,
          clock: harness.clock,
          logger: silentLogger(),
          checkpointer: process,
          onCheckpointEntriesDropped: (n) => dropped.push(n),
        });
      });
      await h.start();
      const ids = ['a', 'b', 'c', 'd', 'e', 'f'];
      const added = await settleAll(
        h,
        ids.map((id) => h.add(id)),
      );
      expect(failures(added)).toEqual([]);
      const [, b, , , e] = okAddresses(added);
      expect(await h.del('b')).toEqual({ kind: 'ok' });
      expect(await h.del('e')).toEqual({ kind: 'ok' });
      await quiesce(h);
      const held = (): string[] =>
        h.agent
          .view()
          .datastore.assignments()
          .map((a) => `${a.key.containerId} ${a.address}`)
          .sort();
      const before = held();
      expect(before.map((a) => a.split(' ')[0])).toEqual(['a', 'c', 'd', 'f']);
      process?.crash();
      void h.agent.close();

      // The whole text (written again whenever the pool's addresses changed), then the DELs' records.
      const records = (await readFile(path, 'utf8')).split('\n').slice(1, -1);
      expect(records.map((r) => JSON.parse(r) as unknown)).toEqual(
        expect.arrayContaining(
          [b, e].map((address) => ({ cooling: { address, until: expect.any(Number) as number } })),
        ),
      );
      if (torn) await appendFile(path, '{"assigned":{"address":"10.');

      h.agent = h.newAgent();
      await h.start();
      expect(held()).toEqual(before);
      expect(dropped).toEqual([]);
      // A new ADD gets none of the addresses held, and is made durable on top of the loaded state.
      const [next] = okAddresses(await settleAll(h, [h.add('g')]));
      expect(before.map((a) => a.split(' ')[1])).not.toContain(next);
      await quiesce(h);
      const reread = await new FileCheckpointer({
        path,
        clock: h.clock,
        files: memoryFsCheckpointFiles,
      }).load();
      expect(reread).toMatchObject({ kind: 'loaded' });
      expect(reread.kind === 'loaded' && reread.tornChange).toBeFalsy();
      h.kill();
    });
  }
});
