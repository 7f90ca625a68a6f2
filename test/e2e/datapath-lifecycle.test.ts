/**
 * Issue 13, the datapath over time: a 100-pod burst over three ENIs with traffic from every pod, a
 * kill -9 of the agent in the middle of traffic, an ENI emptied and deleted by the pool, and an
 * address that moves to another ENI. Same emulated VPC as datapath-vpc.test.ts; real TCP
 * throughout, and EC2's source/destination check never drops a packet.
 * Needs root and the `vpc` peer (test/peers/install.sh vpc); `npm run build` first.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PeerProcess } from '../peers/process.js';
import { spawnPeer } from '../peers/process.js';
import { EmulatedVpc, type VpcNode } from '../peers/vpc/emulated-vpc.js';
import {
  NodeAgent,
  NodePods,
  TCP_ECHO,
  ipIn,
  seenSource,
  startEchoServer,
  type Pod,
} from './harness/vpc-node.js';

const ECHO_PORT = 7171;

let vpc: EmulatedVpc;
/** A node without pods of ours: its host namespace serves TCP for the pods of the others. */
let peer: VpcNode;
const agents: NodeAgent[] = [];
const podSets: NodePods[] = [];
const processes: PeerProcess[] = [];

beforeAll(async () => {
  vpc = await EmulatedVpc.start({ sim: { seed: 1313 } });
  peer = await vpc.addNode('t3.medium');
  processes.push(await startEchoServer(peer.netns, ECHO_PORT));
});

afterAll(async () => {
  await Promise.allSettled(processes.map((p) => p.stop()));
  for (const pods of podSets) await pods.removeAll();
  for (const agent of agents) await agent.remove().catch(() => undefined);
  await vpc?.close();
});

afterEach(async () => {
  expect(await vpc.sourceDestCheckDrops()).toBe(0);
});

async function nodeWithAgent(
  instanceType: string,
  env: Record<string, string>,
): Promise<{ node: VpcNode; agent: NodeAgent; pods: NodePods }> {
  const node = await vpc.addNode(instanceType);
  const agent = await NodeAgent.start(node, env);
  agents.push(agent);
  const pods = await NodePods.create(vpc, agent);
  podSets.push(pods);
  return { node, agent, pods };
}

/** Runs `work` over `items`, `limit` at a time. */
async function inParallel<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await work(items[i]!);
      }
    }),
  );
  return results;
}

/** The rules `ip rule` shows for an address, without their priorities' tabs. */
async function rulesOf(netns: string, address: string): Promise<string[]> {
  return (await ipIn(netns, ['rule', 'show']))
    .split('\n')
    .filter((line) => new RegExp(`(from|to) ${address.replaceAll('.', '\\.')}( |$)`).test(line))
    .map((line) => line.replace(/\t/g, ' ').trim());
}

describe('the datapath over time', () => {
  it('5: a 100-pod burst over three ENIs: every pod reaches another node with its own address', async () => {
    // 50 addresses per ENI and MAX_ENI=3: the burst needs all three ENIs.
    const { node, agent, pods } = await nodeWithAgent('m5.24xlarge', {
      MAX_ENI: '3',
      WARM_IP_TARGET: '1',
      MINIMUM_IP_TARGET: '1',
      ENI_IPAM_ADD_WAIT_SECONDS: '60',
    });
    const burst = await inParallel(
      Array.from({ length: 100 }, (_, i) => `burst-${i}`),
      10,
      (name) => pods.add(name),
    );
    const enis = await agent.enis();
    const holders = new Set((await agent.pods()).map((p) => p.eniId));
    expect(
      enis
        .filter((e) => holders.has(e.eniId))
        .map((e) => e.deviceIndex)
        .sort(),
    ).toEqual([0, 1, 2]);
    const seen = await inParallel(burst, 8, (pod) => seenSource(pod.netns, peer.primaryIp, ECHO_PORT));
    expect(seen).toEqual(burst.map((p) => p.address));
    expect(await ipIn(node.netns, ['rule', 'show'])).toContain('lookup 3');
  }, 600_000);

  describe('on a small node', () => {
    let node: VpcNode;
    let agent: NodeAgent;
    let pods: NodePods;

    beforeAll(async () => {
      ({ node, agent, pods } = await nodeWithAgent('t3.medium', {
        WARM_IP_TARGET: '1',
        MINIMUM_IP_TARGET: '1',
        IP_COOLDOWN_PERIOD: '0',
        ENI_IPAM_EC2_RESYNC_SECONDS: '2',
      }));
    });

    async function podsOnSecondary(count: number, name: string): Promise<Pod[]> {
      const found: Pod[] = [];
      for (let i = 0; found.length < count && i < 40; i++) {
        const pod = await pods.add(`${name}-${i}`);
        if (((await agent.deviceIndexOf(pod.address)) ?? 0) > 0) found.push(pod);
      }
      if (found.length < count) throw new Error(`only ${found.length} pods landed on secondary ENIs`);
      return found;
    }

    it('6: kill -9 and restart mid-traffic: connections survive, stale rules go, missing rules come back', async () => {
      const [held, deleted, damaged] = await podsOnSecondary(3, 'k9');
      const hold = spawnPeer('held connection', 'ip', [
        'netns',
        'exec',
        held!.netns,
        process.execPath,
        TCP_ECHO,
        'hold',
        peer.primaryIp,
        String(ECHO_PORT),
        '100',
      ]);
      processes.push(hold);
      await waitFor(() => (hold.output().match(/^ok /gm) ?? []).length >= 3, 'the held connection answers');

      await agent.kill();
      // While the agent is down: a pod is deleted (its DEL is spooled) and a pod's rules vanish.
      expect((await pods.del(deleted!)).exitCode).toBe(0);
      await ipIn(node.netns, [
        'rule',
        'del',
        'to',
        `${damaged!.address}/32`,
        'lookup',
        'main',
        'priority',
        '512',
      ]);
      expect(await rulesOf(node.netns, deleted!.address)).not.toEqual([]);
      const answeredBefore = (hold.output().match(/^ok /gm) ?? []).length;

      await agent.start();
      await waitFor(
        async () => (await rulesOf(node.netns, deleted!.address)).length === 0,
        'stale rules removed',
      );
      expect(await rulesOf(node.netns, damaged!.address)).toContain(
        `512: from all to ${damaged!.address} lookup main`,
      );
      await waitFor(
        () => (hold.output().match(/^ok /gm) ?? []).length > answeredBefore + 5,
        'the held connection keeps answering',
      );
      expect(hold.output()).not.toContain('broken');
      expect(hold.hasExited()).toBe(false);
      expect(await seenSource(damaged!.netns, peer.primaryIp, ECHO_PORT)).toBe(damaged!.address);
      await hold.stop();
    }, 120_000);

    it('7: an address moved to another ENI routes by the new ENI; nothing of the old one stays', async () => {
      const enis = await agent.enis();
      const [pod] = await podsOnSecondary(1, 'mv');
      const from = (await agent.pods()).find((p) => p.ip === pod!.address)!.eniId;
      const to =
        enis.find((e) => e.eniId !== from && e.deviceIndex > 0) ?? enis.find((e) => e.eniId !== from)!;
      const toDevice = to.deviceIndex;
      expect((await pods.del(pod!)).exitCode).toBe(0);
      expect(await rulesOf(node.netns, pod!.address)).toEqual([]);
      // EC2 moves the free address to the other ENI (AllowReassignment); the agent's resync sees it.
      vpc.moveSecondaryIp(pod!.address, from, to.eniId);
      await waitFor(
        async () =>
          (await agent.enis()).find((e) => e.eniId === to.eniId)?.secondaryIps.includes(pod!.address) ===
          true,
        'the agent sees the address on its new ENI',
      );
      let again: Pod | undefined;
      for (let i = 0; i < 20 && !again; i++) {
        const next = await pods.add(`again-${i}`);
        if (next.address === pod!.address) again = next;
      }
      if (!again) throw new Error(`${pod!.address} was not handed out again`);
      const rules = await rulesOf(node.netns, again.address);
      expect(rules).toContain(`512: from all to ${again.address} lookup main`);
      if (toDevice > 0) {
        expect(rules).toContain(`1536: from ${again.address} to 198.18.128.0/17 lookup ${toDevice + 1}`);
        expect(rules.filter((r) => r.startsWith('1536:'))).toHaveLength(1);
      } else expect(rules.filter((r) => r.startsWith('1536:'))).toEqual([]);
      expect(await seenSource(again.netns, peer.primaryIp, ECHO_PORT)).toBe(again.address);
    }, 120_000);
  });

  it('7: an ENI emptied and deleted by the pool: its table and rules are gone, its link with it', async () => {
    // A node of its own: 11 pods over three ENIs, then the secondary ENIs' pods go.
    const { node, agent, pods } = await nodeWithAgent('t3.medium', {
      WARM_IP_TARGET: '1',
      MINIMUM_IP_TARGET: '1',
      IP_COOLDOWN_PERIOD: '0',
    });
    for (let i = 0; i < 11; i++) await pods.add(`fill-${i}`);
    const before = await agent.enis();
    const secondary = new Set(before.filter((e) => e.deviceIndex > 0).map((e) => e.eniId));
    expect(secondary.size).toBeGreaterThan(0);
    const holders = new Map((await agent.pods()).map((p) => [p.ip, p.eniId]));
    for (const pod of [...pods.pods]) {
      if (secondary.has(holders.get(pod.address) ?? '')) expect((await pods.del(pod)).exitCode).toBe(0);
    }
    // The pool gives surplus back after a minute over its target; an empty ENI goes whole (which
    // one is the planner's choice).
    let gone: typeof before = [];
    await waitFor(
      async () => {
        const now = new Set((await agent.enis()).map((e) => e.eniId));
        gone = before.filter((e) => secondary.has(e.eniId) && !now.has(e.eniId));
        return gone.length > 0;
      },
      'the pool deletes an emptied ENI',
      180_000,
    );
    for (const eni of gone) {
      const table = String(eni.deviceIndex + 1);
      await waitFor(
        async () => !(await ipIn(node.netns, ['rule', 'show'])).includes(`lookup ${table}`),
        `no rule points at table ${table}`,
      );
      await waitFor(
        async () => (await ipIn(node.netns, ['route', 'show', 'table', table])).trim() === '',
        `table ${table} is empty`,
      );
      await waitFor(
        async () => !(await ipIn(node.netns, ['-o', 'link', 'show'])).includes(`eth${eni.deviceIndex}@`),
        `the link of ${eni.eniId} is gone`,
      );
    }
    // The pods that stay (on the primary ENI) keep working.
    const staying = pods.pods.at(-1);
    if (staying) expect(await seenSource(staying.netns, peer.primaryIp, ECHO_PORT)).toBe(staying.address);
  }, 240_000);
});

async function waitFor(
  check: () => boolean | Promise<boolean>,
  what: string,
  timeoutMs = 30_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
