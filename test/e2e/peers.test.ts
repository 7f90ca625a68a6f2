/**
 * Smoke tests for the real peers of issue 7: each one installed by test/peers/install.sh starts,
 * answers as the real thing does, and stops. A peer that is missing fails its tests with a
 * PeerMissingError naming the peer and the install command; nothing is skipped.
 */
/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment --
   client-node's V1* models are data-only classes and its API is meant to take plain objects. */
import { DescribeVpcsCommand, EC2Client } from '@aws-sdk/client-ec2';
import {
  ApiException,
  CoreV1Api,
  KubeConfig,
  RbacAuthorizationV1Api,
  VersionApi,
} from '@kubernetes/client-node';
import { Redis } from 'ioredis';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCnitool } from '../../test/peers/cnitool.js';
import { startKubeApiServer, type KubeApiServer } from '../../test/peers/kube.js';
import { startMoto, type MotoPeer } from '../../test/peers/moto.js';
import {
  createNetns,
  interfaceAddresses,
  listNetns,
  runCniPlugin,
  type NetNs,
} from '../../test/peers/netns.js';
import { peerPaths, peerVersions, requireExecutable } from '../../test/peers/paths.js';
import { startRedis, type RedisPeer } from '../../test/peers/redis.js';

/** True while a process with this PID exists (signal 0 only checks). */
function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

interface CniResult {
  cniVersion: string;
  ips: { address: string }[];
}

// Benchmarking range (RFC 2544): never routed, so it cannot clash with the machine's own networks.
const SMOKE_SUBNET = '198.18.42.0/24';

describe("Debian's reference plugins (CNI 1.0.0) in a network namespace", () => {
  let netns: NetNs | undefined;
  let dataDir: string | undefined;
  beforeAll(async () => {
    requireExecutable('cni', join(peerPaths.debianCniDir, 'ptp'));
    requireExecutable('cni', join(peerPaths.debianCniDir, 'host-local'));
    netns = await createNetns();
    dataDir = await mkdtemp(join(tmpdir(), 'eni-ipam-host-local-'));
  });
  afterAll(async () => {
    await netns?.delete();
    if (dataDir !== undefined) await rm(dataDir, { recursive: true, force: true });
  });

  it('ptp with host-local gives eth0 an address and DEL takes it back', async () => {
    const ns = netns!;
    const invocation = {
      plugin: join(peerPaths.debianCniDir, 'ptp'),
      cniPath: [peerPaths.debianCniDir],
      config: {
        cniVersion: '1.0.0',
        name: 'eni-ipam-smoke',
        type: 'ptp',
        ipam: { type: 'host-local', ranges: [[{ subnet: SMOKE_SUBNET }]], dataDir },
      },
      containerId: 'smoke-debian',
      netns: ns.path,
      ifname: 'eth0',
    };
    const added = await runCniPlugin({ ...invocation, command: 'ADD' });
    expect(added.exitCode, added.stderr + added.stdout).toBe(0);
    const result = added.json as CniResult;
    expect(result.cniVersion).toBe('1.0.0');
    const cidr = result.ips[0]?.address;
    expect(cidr).toMatch(/^198\.18\.42\.\d+\/24$/);
    const [address] = cidr!.split('/');
    expect(await interfaceAddresses(ns.name, 'eth0')).toContainEqual({
      family: 'inet',
      address,
      prefixLength: 24,
    });
    // host-local records each reservation as a file named by the address.
    expect(await readdir(join(dataDir!, 'eni-ipam-smoke'))).toContain(address);

    const checked = await runCniPlugin({
      ...invocation,
      command: 'CHECK',
      config: { ...invocation.config, prevResult: result },
    });
    expect(checked.exitCode, checked.stderr + checked.stdout).toBe(0);

    const deleted = await runCniPlugin({ ...invocation, command: 'DEL' });
    expect(deleted.exitCode, deleted.stderr + deleted.stdout).toBe(0);
    expect(await interfaceAddresses(ns.name, 'eth0')).toEqual([]);
    expect(await readdir(join(dataDir!, 'eni-ipam-smoke'))).not.toContain(address);
  });

  it('deletes the namespace it made', async () => {
    const ns = netns!;
    expect(await listNetns()).toContain(ns.name);
    await ns.delete();
    netns = undefined;
    expect(await listNetns()).not.toContain(ns.name);
  });
});

describe('upstream plugins and cnitool (CNI 1.1.0)', () => {
  let netns: NetNs | undefined;
  let confDir: string | undefined;
  let dataDir: string | undefined;
  beforeAll(async () => {
    requireExecutable('cni', join(peerPaths.upstreamCniDir, 'ptp'));
    requireExecutable('cni', join(peerPaths.upstreamCniDir, 'host-local'));
    requireExecutable('cni', peerPaths.cnitool);
    netns = await createNetns();
    confDir = await mkdtemp(join(tmpdir(), 'eni-ipam-netconf-'));
    dataDir = await mkdtemp(join(tmpdir(), 'eni-ipam-host-local-'));
  });
  afterAll(async () => {
    await netns?.delete();
    for (const dir of [confDir, dataDir])
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  it('upstream ptp lists 1.1.0 among its supported versions', async () => {
    const version = await runCniPlugin({
      plugin: join(peerPaths.upstreamCniDir, 'ptp'),
      command: 'VERSION',
      cniPath: [peerPaths.upstreamCniDir],
      config: { cniVersion: '1.1.0' },
    });
    expect(version.exitCode, version.stderr).toBe(0);
    expect((version.json as { supportedVersions: string[] }).supportedVersions).toContain('1.1.0');
  });

  it('cnitool runs a 1.1.0 network list: ADD, CHECK, STATUS, DEL', async () => {
    const ns = netns!;
    await writeFile(
      join(confDir!, '10-smoke.conflist'),
      JSON.stringify({
        cniVersion: '1.1.0',
        name: 'eni-ipam-smoke-11',
        plugins: [
          { type: 'ptp', ipam: { type: 'host-local', ranges: [[{ subnet: SMOKE_SUBNET }]], dataDir } },
        ],
      }),
    );
    const run = (command: 'add' | 'check' | 'status' | 'del') =>
      runCnitool({
        command,
        networkName: 'eni-ipam-smoke-11',
        confDir: confDir!,
        netns: ns.path,
        cniPath: [peerPaths.upstreamCniDir],
      });

    const added = await run('add');
    expect(added.exitCode, added.stderr).toBe(0);
    const result = JSON.parse(added.stdout) as CniResult;
    expect(result.cniVersion).toBe('1.1.0');
    const [address] = result.ips[0]!.address.split('/');
    expect((await interfaceAddresses(ns.name, 'eth0')).map((a) => a.address)).toContain(address);

    const checked = await run('check');
    expect(checked.exitCode, checked.stderr).toBe(0);
    // STATUS exists only from CNI 1.1.0 on; libcni refuses it for older configurations.
    const status = await run('status');
    expect(status.exitCode, status.stderr).toBe(0);

    const deleted = await run('del');
    expect(deleted.exitCode, deleted.stderr).toBe(0);
    expect(await interfaceAddresses(ns.name, 'eth0')).toEqual([]);
  });
});

describe('kube-apiserver and etcd', () => {
  let kube: KubeApiServer | undefined;
  beforeAll(async () => {
    kube = await startKubeApiServer();
  });
  afterAll(async () => {
    await kube?.stop();
  });

  function client(kubeconfigPath: string): KubeConfig {
    const config = new KubeConfig();
    config.loadFromFile(kubeconfigPath);
    return config;
  }

  it('answers /version as the release it was built from, over TLS it can verify', async () => {
    const version = await client(kube!.kubeconfigPath).makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toBe(peerVersions.kubernetes);
  });

  it('stores a pod bound to a node and lists it by spec.nodeName', async () => {
    const core = client(kube!.kubeconfigPath).makeApiClient(CoreV1Api);
    await core.createNamespacedPod({
      namespace: 'default',
      body: {
        metadata: { name: 'smoke' },
        spec: {
          nodeName: 'eni-ipam-node-1',
          containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }],
        },
      },
    });
    const onNode = await core.listNamespacedPod({
      namespace: 'default',
      fieldSelector: 'spec.nodeName=eni-ipam-node-1',
    });
    expect(onNode.items.map((pod) => pod.metadata?.name)).toEqual(['smoke']);
    const elsewhere = await core.listNamespacedPod({
      namespace: 'default',
      fieldSelector: 'spec.nodeName=other',
    });
    expect(elsewhere.items).toEqual([]);
  });

  it('RBAC refuses the service-account user until a role is bound to it', async () => {
    const sa = kube!.serviceAccount;
    const asServiceAccount = client(sa.kubeconfigPath).makeApiClient(CoreV1Api);
    const refused = await asServiceAccount.listNamespacedPod({ namespace: 'default' }).then(
      () => undefined,
      (err: unknown) => err,
    );
    // 403, not 401: the token authenticated and authorization said no.
    expect(refused).toBeInstanceOf(ApiException);
    expect((refused as ApiException<unknown>).code).toBe(403);

    const rbac = client(kube!.kubeconfigPath).makeApiClient(RbacAuthorizationV1Api);
    await rbac.createNamespacedRole({
      namespace: 'default',
      body: {
        metadata: { name: 'pod-reader' },
        rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }],
      },
    });
    await rbac.createNamespacedRoleBinding({
      namespace: 'default',
      body: {
        metadata: { name: 'pod-reader' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'pod-reader' },
        subjects: [{ kind: 'ServiceAccount', namespace: sa.namespace, name: sa.name }],
      },
    });
    const listed = await asServiceAccount.listNamespacedPod({ namespace: 'default' });
    expect(listed.items.map((pod) => pod.metadata?.name)).toContain('smoke');
  });

  it('restart() brings the API server back with the same address, certificate and data', async () => {
    const before = kube!.pids();
    await kube!.restart();
    const after = kube!.pids();
    expect(after.etcd).toBe(before.etcd);
    expect(after.apiServer).not.toBe(before.apiServer);
    expect(pidAlive(before.apiServer)).toBe(false);
    const core = client(kube!.kubeconfigPath).makeApiClient(CoreV1Api);
    const pods = await core.listNamespacedPod({ namespace: 'default' });
    expect(pods.items.map((pod) => pod.metadata?.name)).toEqual(['smoke']);
  });

  it('stop() ends etcd and kube-apiserver and removes the temporary directory', async () => {
    const server = kube!;
    const { etcd, apiServer } = server.pids();
    await server.stop();
    kube = undefined;
    expect(pidAlive(etcd)).toBe(false);
    expect(pidAlive(apiServer)).toBe(false);
    expect(existsSync(server.kubeconfigPath)).toBe(false);
  });

  it('is built from the versions that test/peers/kube/go.mod requires', async () => {
    // install.sh keys its cache by versions.env and builds from go.mod: they must agree.
    const goMod = await readFile(new URL('../peers/kube/go.mod', import.meta.url), 'utf8');
    const requirements = goMod.split('\n').map((line) => line.trim().split(/\s+/).slice(0, 2).join(' '));
    expect(requirements).toContain(`k8s.io/kubernetes ${peerVersions.kubernetes}`);
    expect(requirements).toContain(`go.etcd.io/etcd/server/v3 ${peerVersions.etcd}`);
  });
});

describe('moto (EC2 wire protocol)', () => {
  let moto: MotoPeer | undefined;
  beforeAll(async () => {
    moto = await startMoto();
  });
  afterAll(async () => {
    await moto?.stop();
  });

  it('answers DescribeVpcs from @aws-sdk/client-ec2 with its default VPC', async () => {
    const ec2 = new EC2Client({
      endpoint: moto!.endpoint,
      region: moto!.region,
      credentials: moto!.credentials,
    });
    const { Vpcs } = await ec2.send(new DescribeVpcsCommand({}));
    expect(Vpcs?.some((vpc) => vpc.IsDefault === true && vpc.CidrBlock === '172.31.0.0/16')).toBe(true);
    ec2.destroy();
  });

  it('stops by PID', async () => {
    const peer = moto!;
    await peer.stop();
    expect(pidAlive(peer.pid)).toBe(false);
    moto = undefined;
  });
});

describe('redis-server', () => {
  let redis: RedisPeer | undefined;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('answers PING through ioredis', async () => {
    const client = new Redis(redis!.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await client.connect();
    expect(await client.ping()).toBe('PONG');
    client.disconnect();
  });

  it('stops by PID', async () => {
    const peer = redis!;
    await peer.stop();
    expect(pidAlive(peer.pid)).toBe(false);
    redis = undefined;
  });
});
