/**
 * A seeded, randomised fault campaign against the real agent process: bursts of CNI ADDs and DELs
 * for pods of a real kube-apiserver, interleaved with kill -9 of the agent, a checkpoint
 * truncated, corrupted, deleted or replaced by a directory, kube-apiserver restarts (also while
 * the checkpoint is lost), the shared EC2 budget's Redis stopped and started again empty, EC2
 * throttling and server errors throughout, and a full disk under the agent's state (a small tmpfs
 * this suite mounts). After every step the user's checks hold: no
 * address is held by two pods, and every acknowledged ADD still holds its address for its pod.
 * Once settled, nothing leaks: EC2 and the agent's books agree, and the agent holds exactly the
 * running pods. The test plays kubelet: ADD for a pod's sandbox, then `status.podIPs`; a failed
 * ADD's sandbox is torn down with DEL.
 *
 * Needs the `kube` and `redis` peers, root (for the tmpfs) and `npm run build`. CI runs a fixed budget of
 * STEPS; the test prints how many steps and faults ran.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { V1PodIP, V1PodStatus, type CoreV1Api, type V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SeededRandom } from '../../sim/random.js';
import { systemClock } from '../../time/clock.js';
import { DEPLOY_DIR, parseYamlFile } from '../deploy/manifests.js';
import { startKubeApiServer, type KubeApiServer } from '../peers/kube.js';
import { startRedis, type RedisPeer } from '../peers/redis.js';
import {
  startAgentProcess,
  startSimulatedNode,
  type AgentProcess,
  type PodView,
  type SimulatedNode,
} from './harness/agent-process.js';
import { BALANCED, balanced, settledAccounting } from './harness/ec2-truth.js';
import {
  createBoundPod,
  createNode,
  deletePodNow,
  eventually,
  statusOf,
  kubeClients,
  type KubeClients,
} from './harness/kube-cluster.js';
import { addPod, delPod, newSandbox, type PodSandbox } from './harness/kube-cni.js';
import { KubeRest, type ManifestObject } from './harness/kube-rest.js';

const SEED = 4242;
/** CI's budget: each step is a burst and, most of the time, a fault. */
const STEPS = 24;
const NODE_NAME = 'ip-198-19-0-77.ec2.internal';
const NAMESPACE = 'default';
/** m5.large holds 27 pod addresses; the live set stays below, so no ADD is refused for room. */
const MAX_LIVE = 16;
const TMPFS_SIZE = '4m';
const run = promisify(execFile);

type Fault =
  | 'none'
  | 'kill'
  | 'checkpoint-truncated'
  | 'checkpoint-corrupt'
  | 'checkpoint-deleted'
  | 'checkpoint-directory'
  | 'apiserver-restart'
  | 'checkpoint-and-apiserver-lost'
  | 'redis-restart'
  | 'full-disk';
const FAULTS: readonly Fault[] = [
  'none',
  'kill',
  'checkpoint-truncated',
  'checkpoint-corrupt',
  'checkpoint-deleted',
  'checkpoint-directory',
  'apiserver-restart',
  'checkpoint-and-apiserver-lost',
  'redis-restart',
  'full-disk',
];

interface LivePod {
  readonly sandbox: PodSandbox;
  readonly ip: string;
  /** status.podIPs written (kubelet's report); retried until it is. */
  reported: boolean;
}

function deployRbac(): { objects: ManifestObject[]; serviceAccount: { namespace: string; name: string } } {
  const objects = parseYamlFile(join(DEPLOY_DIR, 'rbac.yaml')).filter((d): d is ManifestObject => d !== null);
  const sa = objects.find((o) => o.kind === 'ServiceAccount');
  if (!sa?.metadata.namespace) throw new Error('deploy/rbac.yaml has no namespaced ServiceAccount');
  return { objects, serviceAccount: { namespace: sa.metadata.namespace, name: sa.metadata.name } };
}

/** What kubelet reports once the sandbox has its address. */
async function reportPodIp(core: CoreV1Api, live: LivePod): Promise<boolean> {
  try {
    const pod: V1Pod = await core.readNamespacedPod({ namespace: NAMESPACE, name: live.sandbox.pod.name });
    const status = pod.status ?? new V1PodStatus();
    const podIp = new V1PodIP();
    podIp.ip = live.ip;
    status.phase = 'Running';
    status.podIP = live.ip;
    status.podIPs = [podIp];
    pod.status = status;
    await core.replaceNamespacedPodStatus({ namespace: NAMESPACE, name: live.sandbox.pod.name, body: pod });
    return true;
  } catch {
    return false; // the API server is restarting: kubelet retries too
  }
}

describe('seeded fault campaign', () => {
  let kube: KubeApiServer;
  let admin: KubeClients;
  let node: SimulatedNode;
  let agent: AgentProcess;
  let redis: RedisPeer;
  let mountPoint: string;
  let podCount = 0;

  beforeAll(async () => {
    mountPoint = await mkdtemp(join(tmpdir(), 'reliab-campaign-'));
    // A small filesystem of the suite's own for the agent's state, to fill it on purpose.
    await run('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_SIZE},mode=0700`, 'reliab-campaign', mountPoint]);
    const rbac = deployRbac();
    kube = await startKubeApiServer({ serviceAccount: rbac.serviceAccount });
    admin = kubeClients(kube.kubeconfigPath);
    const rest = KubeRest.admin(kube);
    for (const object of rbac.objects) {
      const answer = await rest.apply(object, { dryRun: false });
      if (answer.status !== 200 && answer.status !== 201)
        throw new Error(
          `applying ${object.kind} ${object.metadata.name} answered ${answer.status}: ${answer.text}`,
        );
    }
    await createNode(admin.core, NODE_NAME, 'us-east-1a');
    node = await startSimulatedNode({
      instanceType: 'm5.large',
      throttleRate: 0.1,
      sim: { seed: SEED, faults: { serverErrorRate: 0.05 } },
    });
    redis = await startRedis();
    const stateDir = join(mountPoint, 'state');
    await mkdir(stateDir, { mode: 0o700 });
    agent = await startAgentProcess({
      node,
      nodeName: NODE_NAME,
      stateDir,
      kubeconfigPath: kube.serviceAccount.kubeconfigPath,
      env: {
        WARM_IP_TARGET: '2',
        IP_COOLDOWN_PERIOD: '1',
        ENI_IPAM_ADD_WAIT_SECONDS: '5',
        ENI_IPAM_POD_GONE_GRACE_SECONDS: '2',
        EC2_RATE_LIMIT_REDIS_URL: redis.url,
      },
    });
  }, 180_000);

  afterAll(async () => {
    await agent?.stop();
    await node?.close();
    await kube?.stop();
    await redis?.stop();
    if (mountPoint) {
      await run('umount', [mountPoint]).catch(() => undefined);
      await rm(mountPoint, { recursive: true, force: true });
    }
  });

  it(`holds its invariants through ${STEPS} seeded steps (seed ${SEED})`, { timeout: 600_000 }, async () => {
    const random = new SeededRandom(SEED);
    const live = new Map<string, LivePod>();
    let acknowledged = 0;
    let refused = 0;
    const faultsRun = new Map<Fault, number>();
    const context = (step: number, what: string): string =>
      `step ${step} (seed ${SEED}): ${what}\nagent log tail:\n${agent.output().slice(-4000)}`;

    const newPod = async (): Promise<PodSandbox> => {
      podCount += 1;
      const name = `campaign-${podCount}`;
      // While kube-apiserver restarts, the pod is created once it answers again.
      const pod = await eventually(
        `pod ${name} created`,
        () =>
          createBoundPod(admin.core, { namespace: NAMESPACE, name, nodeName: NODE_NAME }).catch(
            () => undefined,
          ),
        60_000,
      );
      return newSandbox(pod);
    };
    /** The pod's deletion, retried while kube-apiserver restarts: a pod left behind is a running pod. */
    const deletePod = async (sandbox: PodSandbox): Promise<void> => {
      await eventually(
        `pod ${sandbox.pod.name} deleted`,
        () =>
          deletePodNow(admin.core, sandbox.pod).then(
            () => true,
            (err: unknown) => (statusOf(err) === 404 ? true : undefined),
          ),
        60_000,
      );
    };
    /** ADD; a failure is followed by the sandbox's DEL and the pod's deletion (kubelet gives up on it). */
    const add = async (sandbox: PodSandbox): Promise<void> => {
      try {
        const ip = await addPod(agent.socketPath, sandbox);
        const entry: LivePod = { sandbox, ip, reported: false };
        live.set(sandbox.containerId, entry);
        acknowledged++;
        entry.reported = await reportPodIp(admin.core, entry);
      } catch {
        refused++;
        await delPod(agent.socketPath, sandbox).catch(() => undefined);
        await deletePod(sandbox);
      }
    };
    const del = async (entry: LivePod): Promise<void> => {
      live.delete(entry.sandbox.containerId);
      // A DEL that cannot reach the agent is spooled by the plugin in real life; here it is retried.
      for (let attempt = 0; attempt < 20; attempt++) {
        try {
          await delPod(agent.socketPath, entry.sandbox);
          break;
        } catch {
          await systemClock.sleep(250);
        }
      }
      await deletePod(entry.sandbox);
    };
    const burst = async (): Promise<void> => {
      const leaving = [...live.values()].filter(() => random.chance(0.3));
      const room = MAX_LIVE - (live.size - leaving.length);
      const arriving = await Promise.all(
        Array.from({ length: Math.min(room, 1 + random.int(4)) }, () => newPod()),
      );
      await Promise.all([...arriving.map(add), ...leaving.map(del)]);
    };
    const flushReports = async (): Promise<void> => {
      for (const entry of live.values())
        if (!entry.reported) entry.reported = await reportPodIp(admin.core, entry);
    };
    const checkpoint = (): string => agent.checkpointPath;
    const sharedBudgetDegraded = async (): Promise<number | undefined> => {
      const text = await fetch(`${agent.metricsUrl}/metrics`)
        .then((r) => r.text())
        .catch(() => '');
      const line = /^eniipam_ec2_shared_budget_degraded (\S+)$/m.exec(text);
      return line ? Number(line[1]) : undefined;
    };

    const check = async (step: number): Promise<void> => {
      const held: PodView[] = await agent.pods();
      const byIp = new Map<string, PodView[]>();
      for (const p of held) byIp.set(p.ip, [...(byIp.get(p.ip) ?? []), p]);
      for (const [ip, holders] of byIp)
        expect(holders.length, context(step, `${ip} held by ${holders.map((h) => h.uid).join(', ')}`)).toBe(
          1,
        );
      for (const entry of live.values()) {
        const holder = byIp.get(entry.ip)?.[0];
        // Quarantined (holder unknown, until the pods are known) is not handed out either.
        const ok = holder?.uid === entry.sandbox.pod.uid || holder?.namespace === 'eni-ipam';
        expect(
          ok,
          context(
            step,
            `acknowledged ${entry.sandbox.pod.name} ${entry.ip} now held by ${JSON.stringify(holder)}`,
          ),
        ).toBe(true);
      }
    };

    // Every fault once, in a seeded order, then seeded picks for the rest of the budget.
    const order = [...FAULTS].sort(() => random.next() - 0.5);
    let steps = 0;
    for (let step = 0; step < STEPS; step++) {
      const fault = order[step] ?? FAULTS[random.int(FAULTS.length)]!;
      faultsRun.set(fault, (faultsRun.get(fault) ?? 0) + 1);
      await flushReports();
      switch (fault) {
        case 'none':
          await burst();
          break;
        case 'kill': {
          const during = burst();
          await systemClock.sleep(random.int(400));
          await agent.kill();
          await during;
          await agent.start();
          break;
        }
        case 'checkpoint-truncated':
        case 'checkpoint-corrupt':
        case 'checkpoint-deleted':
        case 'checkpoint-directory': {
          await burst();
          await agent.kill();
          const path = checkpoint();
          if (fault === 'checkpoint-truncated') await truncate(path, 37).catch(() => undefined);
          if (fault === 'checkpoint-corrupt') await writeFile(path, '{"format":"eni-ipam-checkpoint","vers');
          if (fault === 'checkpoint-deleted') await unlink(path).catch(() => undefined);
          if (fault === 'checkpoint-directory') {
            await unlink(path).catch(() => undefined);
            await mkdir(path);
          }
          await agent.start();
          await burst();
          break;
        }
        case 'apiserver-restart': {
          const restarting = kube.restart();
          await burst();
          await restarting;
          break;
        }
        case 'checkpoint-and-apiserver-lost': {
          await agent.kill();
          await unlink(checkpoint()).catch(() => undefined);
          const restarting = kube.restart();
          await agent.start();
          await burst();
          await restarting;
          break;
        }
        case 'redis-restart': {
          // The shared budget goes away mid-burst and comes back empty on the same address: the
          // agent degrades to its own limiter, then finds the budget again by itself.
          const during = burst();
          await redis.stop();
          await during;
          await eventually(
            'the agent on its own limiter while Redis is away',
            async () => ((await sharedBudgetDegraded()) === 1 ? true : undefined),
            60_000,
            async () => `eniipam_ec2_shared_budget_degraded ${String(await sharedBudgetDegraded())}`,
          );
          await burst();
          redis = await startRedis(redis.port);
          await eventually(
            'the shared EC2 budget in use again',
            async () => ((await sharedBudgetDegraded()) === 0 ? true : undefined),
            60_000,
            async () => `eniipam_ec2_shared_budget_degraded ${String(await sharedBudgetDegraded())}`,
          );
          await burst();
          break;
        }
        case 'full-disk': {
          const filler = join(mountPoint, 'filler');
          await writeFile(filler, Buffer.alloc(16 * 1024 * 1024)).catch(() => undefined);
          await burst();
          await unlink(filler);
          break;
        }
      }
      await check(step);
      steps++;
    }

    // Settle: kubelet's reports all made, no more faults; quarantine resolves, books balance.
    await eventually(
      'every pod status reported',
      async () => {
        await flushReports();
        return [...live.values()].every((e) => e.reported) ? true : undefined;
      },
      60_000,
    );
    await eventually(
      'the agent holds exactly the running pods',
      async () => {
        const held = new Map((await agent.pods()).map((p) => [p.ip, p.uid]));
        const expected = new Map([...live.values()].map((e) => [e.ip, e.sandbox.pod.uid]));
        return JSON.stringify([...held].sort()) === JSON.stringify([...expected].sort()) ? true : undefined;
      },
      90_000,
      async () =>
        `held ${JSON.stringify(await agent.pods())}\nlive ${JSON.stringify([...live.values()].map((e) => [e.ip, e.sandbox.pod.uid]))}`,
    );
    await check(STEPS);
    const report = await settledAccounting(node, agent, {
      settledWhen: (r) => balanced({ ...r, leakedEnis: [] }),
    });
    expect({ ...report, leakedEnis: [] }, context(STEPS, 'books once settled')).toEqual(BALANCED);

    const ec2 = node.endpoint.stats.snapshot();
    const ec2Faults = ec2.throttled + Object.values(ec2.errors).reduce((a, b) => a + b, 0) + ec2.timeouts;
    const injected = [...faultsRun].filter(([f]) => f !== 'none').reduce((a, [, n]) => a + n, 0);
    console.log(
      `fault campaign: seed ${SEED}, ${steps} steps, ${injected} injected faults ${JSON.stringify(Object.fromEntries(faultsRun))}, ` +
        `${ec2Faults} EC2 faults (throttled ${ec2.throttled}, errors ${JSON.stringify(ec2.errors)}), ` +
        `${podCount} pods: ${acknowledged} ADDs acknowledged, ${refused} refused (retried as new pods), ${live.size} running at the end`,
    );
    expect(steps).toBe(STEPS);
    expect(acknowledged).toBeGreaterThan(STEPS);
  });
});
