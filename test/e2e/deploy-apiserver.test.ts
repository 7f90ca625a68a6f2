/**
 * deploy/ against a real kube-apiserver (issue 6 "applied with server-side dry run", issue 7
 * Kubernetes case): every manifest is accepted by server-side apply with dry run and strict field
 * validation, in the kustomization's order, the ENIConfig CRD being applied for real first so its
 * schema can be tried; then deploy/'s ServiceAccount, bound by deploy/'s ClusterRole, runs the
 * agent's own Kubernetes code (agent/kube/) and is refused what the agent does not need.
 *
 * Needs the `kube` peer (test/peers/install.sh kube). See docs/e2e-kubernetes.md.
 */
import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENICONFIG_GROUP, ENICONFIG_VERSION } from '../../agent/kube/eni-config.js';
import { createKubeSources, type KubeSources } from '../../agent/kube/kube-sources.js';
import { WARM_UP_LABEL, WARM_UP_SELECTOR, warmUpLeaseName } from '../../agent/kube/warm-up-lease.js';
import { silentLogger } from '../../agent/logger.js';
import { systemClock } from '../../time/clock.js';
import { DEPLOY_DIR, parseYamlFile } from '../deploy/manifests.js';
import { startKubeApiServer, type KubeApiServer } from '../peers/kube.js';
import {
  createBoundPod,
  createNode,
  createVirtualMachine,
  eventually,
  installCrd,
  kubeClients,
  VIRTUAL_MACHINE_CRD,
  type KubeClients,
} from './harness/kube-cluster.js';
import { KubeRest, type ManifestObject, type RestAnswer } from './harness/kube-rest.js';

const NODE_NAME = 'ip-198-19-0-20.ec2.internal';
const ZONE = 'us-east-1a';
const WATCH_DEADLINE_MS = 15_000;

/** The files kustomization.yaml lists, in its order: the order `kubectl apply -k` follows. */
function kustomizationResources(): string[] {
  const [doc] = parseYamlFile(join(DEPLOY_DIR, 'kustomization.yaml'));
  const resources = (doc as { resources?: unknown } | undefined)?.resources;
  if (!Array.isArray(resources) || !resources.every((r): r is string => typeof r === 'string')) {
    throw new Error('deploy/kustomization.yaml has no resources list');
  }
  return resources;
}

/**
 * Every YAML file under deploy/ (relative to it) except the kustomization itself and the Helm chart
 * (deploy/chart/, checked by chart.test.ts).
 */
function yamlFilesUnderDeploy(dir = DEPLOY_DIR): string[] {
  const files: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && path === join(DEPLOY_DIR, 'chart')) continue;
    if (entry.isDirectory()) files.push(...yamlFilesUnderDeploy(path));
    else if (/\.ya?ml$/.test(entry.name) && entry.name !== 'kustomization.yaml')
      files.push(relative(DEPLOY_DIR, path));
  }
  return files.sort();
}

function objectsOf(file: string): ManifestObject[] {
  return parseYamlFile(join(DEPLOY_DIR, file)).filter((d): d is ManifestObject => d !== null);
}

function accepted(answer: RestAnswer): boolean {
  return answer.status === 200 || answer.status === 201;
}

function describeObject(o: ManifestObject): string {
  return `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;
}

let kube: KubeApiServer | undefined;
let rest: KubeRest;
let admin: KubeClients;

function server(): KubeApiServer {
  if (!kube) throw new Error('beforeAll did not start the API server');
  return kube;
}

function serviceAccountOf(): { namespace: string; name: string } {
  const sa = objectsOf('rbac.yaml').find((o) => o.kind === 'ServiceAccount');
  if (!sa?.metadata.namespace) throw new Error('deploy/rbac.yaml has no namespaced ServiceAccount');
  return { namespace: sa.metadata.namespace, name: sa.metadata.name };
}

beforeAll(async () => {
  kube = await startKubeApiServer({ serviceAccount: serviceAccountOf() });
  rest = KubeRest.admin(kube);
  admin = kubeClients(kube.kubeconfigPath);
});

afterAll(async () => {
  await kube?.stop();
});

describe('deploy/ manifests on a real kube-apiserver', () => {
  it('kustomization.yaml lists every manifest of deploy/, so none escapes the dry run', () => {
    expect([...kustomizationResources()].sort()).toEqual(yamlFilesUnderDeploy());
  });

  it('accepts every object with server-side dry run and strict field validation, storing nothing but the CRDs', async () => {
    const refused: string[] = [];
    const dryRun: ManifestObject[] = [];
    for (const file of kustomizationResources()) {
      for (const object of objectsOf(file)) {
        const answer = await rest.apply(object, { dryRun: true });
        if (!accepted(answer)) {
          refused.push(`${file}: ${describeObject(object)}: ${answer.status} ${answer.text}`);
          continue;
        }
        // The API server echoes what it would store: the same object, defaulted.
        expect((answer.body as ManifestObject).metadata.name).toBe(object.metadata.name);
        if (object.kind === 'CustomResourceDefinition') {
          // For real, so that objects of its kind (ENIConfigs, below) can be validated against it.
          await installCrd(rest, admin, object);
        } else {
          dryRun.push(object);
        }
      }
    }
    expect(refused).toEqual([]);
    expect(dryRun.map((o) => o.kind)).toEqual(
      expect.arrayContaining(['ServiceAccount', 'ClusterRole', 'ClusterRoleBinding', 'DaemonSet']),
    );
    // A dry run stores nothing.
    for (const object of dryRun) {
      const answer = await rest.call('GET', await rest.pathOf(object));
      expect(answer.status, `${describeObject(object)} was stored by a dry run`).toBe(404);
    }
  });

  it('the dry run can fail: a misspelt field in the DaemonSet is refused', async () => {
    const daemonSet = objectsOf('daemonset.yaml').find((o) => o.kind === 'DaemonSet');
    if (!daemonSet) throw new Error('deploy/daemonset.yaml has no DaemonSet');
    const spec = structuredClone(daemonSet.spec) as {
      template: { spec: { containers: Record<string, unknown>[] } };
    };
    const container = spec.template.spec.containers[0];
    if (!container) throw new Error('the DaemonSet has no container');
    container['imagePullPolicyy'] = 'Always';
    const answer = await rest.apply({ ...daemonSet, spec }, { dryRun: true });
    // Server-side apply cannot even build the typed patch; v1.36 answers that with 500, not 422.
    expect(accepted(answer)).toBe(false);
    expect(answer.text).toContain('imagePullPolicyy: field not declared in schema');
  });

  it("the ENIConfig CRD takes the AWS VPC CNI's objects and refuses one without a subnet", async () => {
    const eniConfig = (name: string, spec: Record<string, unknown>): ManifestObject => ({
      apiVersion: `${ENICONFIG_GROUP}/${ENICONFIG_VERSION}`,
      kind: 'ENIConfig',
      metadata: { name },
      spec,
    });
    const good = await rest.apply(
      eniConfig(ZONE, { subnet: 'subnet-0abc1234', securityGroups: ['sg-0123abcd'] }),
      { dryRun: true },
    );
    expect(good.status, good.text).toBe(201);
    const withoutGroups = await rest.apply(eniConfig('us-east-1b', { subnet: 'subnet-0abc5678' }), {
      dryRun: true,
    });
    expect(withoutGroups.status, withoutGroups.text).toBe(201);
    const noSubnet = await rest.apply(eniConfig('us-east-1c', { securityGroups: ['sg-0123abcd'] }), {
      dryRun: true,
    });
    expect(noSubnet.status).toBe(422);
    expect(noSubnet.text).toContain('subnet');
  });
});

describe("deploy/'s ServiceAccount bound by deploy/'s ClusterRole", () => {
  let sources: KubeSources | undefined;
  const stop = new AbortController();

  beforeAll(async () => {
    for (const object of objectsOf('rbac.yaml')) {
      const answer = await rest.apply(object, { dryRun: false });
      if (!accepted(answer))
        throw new Error(`applying ${describeObject(object)} answered ${answer.status}: ${answer.text}`);
    }
    await installCrd(rest, admin, VIRTUAL_MACHINE_CRD);
    const eniConfigCrd = objectsOf('eniconfig-crd.yaml').find((o) => o.kind === 'CustomResourceDefinition');
    if (!eniConfigCrd) throw new Error('deploy/eniconfig-crd.yaml has no CustomResourceDefinition');
    await installCrd(rest, admin, eniConfigCrd);
    await createNode(admin.core, NODE_NAME, ZONE);
    const created = await rest.apply(
      {
        apiVersion: `${ENICONFIG_GROUP}/${ENICONFIG_VERSION}`,
        kind: 'ENIConfig',
        metadata: { name: ZONE },
        spec: { subnet: 'subnet-0abc1234', securityGroups: ['sg-0123abcd'] },
      },
      { dryRun: false },
    );
    if (!accepted(created))
      throw new Error(`creating ENIConfig ${ZONE} answered ${created.status}: ${created.text}`);
  });

  afterAll(async () => {
    stop.abort();
    await sources?.pods.close();
    await sources?.virtualMachines.close();
    await sources?.recentNodes.close();
  });

  it("runs the agent's own Kubernetes code: pod and VM list+watch, node and ENIConfig reads, node events", async () => {
    const k = server();
    // Exactly what agent/assemble.ts's startAgent builds, authenticated as the service account.
    const kube = createKubeSources({
      config: { kubeconfig: k.serviceAccount.kubeconfigPath, nodeName: NODE_NAME },
      clock: systemClock,
      log: silentLogger(),
    });
    sources = kube;
    kube.pods.start(stop.signal);
    kube.virtualMachines.start(stop.signal);

    // Pods: list and watch with spec.nodeName=<node>; a pod created now arrives through the watch.
    // Bounded: without the permission the watch retries forever and never syncs.
    await eventually(
      'the pod watch is synced',
      () => (kube.pods.synced() ? true : undefined),
      WATCH_DEADLINE_MS,
    );
    const pod = await createBoundPod(admin.core, {
      namespace: 'default',
      name: 'watched',
      nodeName: NODE_NAME,
    });
    await createBoundPod(admin.core, { namespace: 'default', name: 'elsewhere', nodeName: 'another-node' });
    await eventually(
      'the pod watch shows the new pod',
      () => (kube.pods.list().some((p) => p.uid === pod.uid) ? true : undefined),
      WATCH_DEADLINE_MS,
    );
    expect(kube.pods.list().map((p) => p.name)).toEqual(['watched']);
    expect(kube.pods.health().restarts).toEqual(expect.objectContaining({ error: 0 }));

    // VirtualMachines: discovery finds kubevirt.io/v1, then list and watch.
    await eventually(
      'the VM watch is present and synced',
      () =>
        kube.virtualMachines.apiState() === 'present' && kube.virtualMachines.synced() ? true : undefined,
      WATCH_DEADLINE_MS,
    );
    const vm = await createVirtualMachine(admin.custom, { namespace: 'default', name: 'vm-1' });
    await eventually(
      'the VM watch shows the new VM',
      () => (kube.virtualMachines.list().some((v) => v.uid === vm.uid) ? true : undefined),
      WATCH_DEADLINE_MS,
    );

    // Custom networking: the node (get) and its ENIConfig (get); a missing one is "none", not 403.
    const facts = await kube.eniConfigs.node(NODE_NAME);
    expect(facts.availabilityZone).toBe(ZONE);
    expect(await kube.eniConfigs.eniConfig(ZONE)).toEqual({
      name: ZONE,
      subnet: 'subnet-0abc1234',
      securityGroups: ['sg-0123abcd'],
    });
    expect(await kube.eniConfigs.eniConfig('no-such-eniconfig')).toBeUndefined();

    // Node events: a shortage written, then repeated (the same Event's count raised by a patch).
    const shortage = { cause: 'eni-limit', message: 'the node is at its ENI limit' } as const;
    kube.nodeEvents.record({ type: 'Warning', ...shortage, count: 1 });
    await kube.nodeEvents.idle();
    kube.nodeEvents.record({ type: 'Warning', ...shortage, count: 2 });
    await kube.nodeEvents.idle();
    const events = await admin.core.listNamespacedEvent({
      namespace: 'default',
      fieldSelector: `involvedObject.kind=Node,involvedObject.name=${NODE_NAME}`,
    });
    expect(events.items.map((e) => [e.reason, e.count])).toEqual([['ENILimitReached', 2]]);
  });

  it('counts recent, alive nodes and those whose warm-up Lease it watches; creates its own Lease once, owned by its Node', async () => {
    const k = server();
    const kube = sources;
    if (!kube) throw new Error('the first test did not build the sources');
    // The kubelets' Leases: two alive (this node and another), one that expired 10 minutes ago.
    const now = Date.now();
    const microTime = (ms: number): string => new Date(ms).toISOString().replace('Z', '000Z');
    for (const [name, renewedAt] of [
      [NODE_NAME, now],
      ['ip-198-19-0-21.ec2.internal', now],
      ['ip-198-19-0-22.ec2.internal', now - 600_000],
    ] as const) {
      const answer = await rest.call(
        'POST',
        '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases',
        {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name },
          spec: { holderIdentity: name, leaseDurationSeconds: 40, renewTime: microTime(renewedAt) },
        },
      );
      expect(answer.status, answer.text).toBe(201);
    }
    await kube.recentNodes.start();
    expect(kube.recentNodes.count()).toEqual({ recent: 2, settled: 0 });

    // This node's warm-up is over: its Lease, in the service account's namespace, owned by its Node.
    kube.warmUp.done();
    await kube.warmUp.idle();
    const namespace = k.serviceAccount.namespace;
    const lease = await rest.call(
      'GET',
      `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${warmUpLeaseName(NODE_NAME)}`,
    );
    expect(lease.status, lease.text).toBe(200);
    const body = lease.body as {
      metadata: {
        labels?: Record<string, string>;
        ownerReferences?: { kind: string; name: string; uid: string }[];
      };
      spec: { holderIdentity?: string };
    };
    const node = await admin.core.readNode({ name: NODE_NAME });
    expect(body.spec.holderIdentity).toBe(NODE_NAME);
    expect(body.metadata.labels?.[WARM_UP_LABEL]).toBe('done');
    expect(body.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Node', name: NODE_NAME, uid: node.metadata?.uid }),
    ]);
    // Seen through the watch: this node is settled, the other alive one still warming up.
    await eventually(
      'the warm-up watch shows this node settled',
      () => (kube.recentNodes.count().settled === 1 ? true : undefined),
      WATCH_DEADLINE_MS,
    );
    expect(kube.recentNodes.count()).toEqual({ recent: 2, settled: 1 });

    // A restarted agent reports again: the Lease is there already (409), nothing changes.
    const again = createKubeSources({
      config: { kubeconfig: k.serviceAccount.kubeconfigPath, nodeName: NODE_NAME },
      clock: systemClock,
      log: silentLogger(),
    });
    again.warmUp.done();
    await again.warmUp.idle();
    const leases = await rest.call(
      'GET',
      `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases?labelSelector=${encodeURIComponent(WARM_UP_SELECTOR)}`,
    );
    expect((leases.body as { items: unknown[] }).items).toHaveLength(1);

    // The agent's token can neither change nor delete Leases of its namespace, nor write node Leases.
    const asAgent = KubeRest.as(k, k.serviceAccount);
    const path = `/apis/coordination.k8s.io/v1/namespaces/${namespace}/leases/${warmUpLeaseName(NODE_NAME)}`;
    expect((await asAgent.call('DELETE', path)).status).toBe(403);
    expect((await asAgent.call('PUT', path, lease.body)).status).toBe(403);
    const nodeLease = await asAgent.call(
      'POST',
      '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases',
      {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: 'forged' },
        spec: { holderIdentity: 'forged' },
      },
    );
    expect(nodeLease.status).toBe(403);
  });

  /**
   * What the agent's calls need (agent/kube/: PodWatch lists and watches pods of every namespace
   * with a field selector, VirtualMachineWatch lists and watches VMs of every namespace,
   * KubeEniConfigSource gets its node and one ENIConfig, KubeNodeEvents creates and patches core
   * events of its node) and what it must not have. Events are the agent's only writes: every other
   * write is refused. `namespace: ''` asks about all namespaces (or a cluster-scoped kind).
   */
  interface Access {
    group: string;
    resource: string;
    subresource?: string;
    verb: string;
    namespace: string;
  }
  const allowed: Access[] = [
    { group: '', resource: 'pods', verb: 'list', namespace: '' },
    { group: '', resource: 'pods', verb: 'watch', namespace: '' },
    { group: '', resource: 'nodes', verb: 'get', namespace: '' },
    { group: '', resource: 'events', verb: 'create', namespace: 'default' },
    { group: '', resource: 'events', verb: 'patch', namespace: 'default' },
    { group: ENICONFIG_GROUP, resource: 'eniconfigs', verb: 'get', namespace: '' },
    { group: 'kubevirt.io', resource: 'virtualmachines', verb: 'list', namespace: '' },
    { group: 'kubevirt.io', resource: 'virtualmachines', verb: 'watch', namespace: '' },
    { group: 'coordination.k8s.io', resource: 'leases', verb: 'list', namespace: 'kube-node-lease' },
    { group: 'coordination.k8s.io', resource: 'leases', verb: 'create', namespace: 'kube-system' },
    { group: 'coordination.k8s.io', resource: 'leases', verb: 'watch', namespace: 'kube-system' },
  ];
  const refused: Access[] = [
    { group: '', resource: 'secrets', verb: 'list', namespace: '' },
    { group: '', resource: 'secrets', verb: 'get', namespace: 'kube-system' },
    { group: '', resource: 'configmaps', verb: 'get', namespace: 'kube-system' },
    { group: '', resource: 'pods', verb: 'create', namespace: 'default' },
    { group: '', resource: 'pods', verb: 'delete', namespace: 'default' },
    { group: '', resource: 'pods', verb: 'patch', namespace: 'default' },
    { group: '', resource: 'pods', subresource: 'exec', verb: 'create', namespace: 'default' },
    { group: '', resource: 'pods', subresource: 'eviction', verb: 'create', namespace: 'default' },
    { group: '', resource: 'nodes', verb: 'list', namespace: '' },
    { group: '', resource: 'nodes', verb: 'patch', namespace: '' },
    { group: '', resource: 'nodes', subresource: 'status', verb: 'patch', namespace: '' },
    {
      group: '',
      resource: 'serviceaccounts',
      subresource: 'token',
      verb: 'create',
      namespace: 'kube-system',
    },
    { group: '', resource: 'events', verb: 'delete', namespace: 'default' },
    { group: '', resource: 'events', verb: 'update', namespace: 'default' },
    { group: 'events.k8s.io', resource: 'events', verb: 'create', namespace: 'default' },
    { group: ENICONFIG_GROUP, resource: 'eniconfigs', verb: 'create', namespace: '' },
    { group: ENICONFIG_GROUP, resource: 'eniconfigs', verb: 'delete', namespace: '' },
    { group: 'kubevirt.io', resource: 'virtualmachines', verb: 'update', namespace: 'default' },
    { group: 'kubevirt.io', resource: 'virtualmachines', verb: 'delete', namespace: 'default' },
    { group: 'rbac.authorization.k8s.io', resource: 'clusterrolebindings', verb: 'create', namespace: '' },
    { group: 'apiextensions.k8s.io', resource: 'customresourcedefinitions', verb: 'create', namespace: '' },
    { group: 'coordination.k8s.io', resource: 'leases', verb: 'update', namespace: 'kube-system' },
    { group: 'coordination.k8s.io', resource: 'leases', verb: 'patch', namespace: 'kube-system' },
    { group: 'coordination.k8s.io', resource: 'leases', verb: 'delete', namespace: 'kube-system' },
    { group: 'coordination.k8s.io', resource: 'leases', verb: 'create', namespace: 'kube-node-lease' },
    { group: 'coordination.k8s.io', resource: 'leases', verb: 'watch', namespace: 'kube-node-lease' },
  ];
  const show = (a: Access): string =>
    `${a.verb} ${a.group || 'core'}/${a.resource}${a.subresource ? `/${a.subresource}` : ''}${a.namespace ? ` in ${a.namespace}` : ''}`;

  /** SubjectAccessReview: what the API server's authorizer decides for the service-account user. */
  async function isAllowed(access: Access): Promise<boolean> {
    const k = server();
    const answer = await rest.call('POST', '/apis/authorization.k8s.io/v1/subjectaccessreviews', {
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: k.serviceAccount.username,
        groups: [
          'system:serviceaccounts',
          `system:serviceaccounts:${k.serviceAccount.namespace}`,
          'system:authenticated',
        ],
        resourceAttributes: access,
      },
    });
    if (answer.status !== 201)
      throw new Error(`SubjectAccessReview answered ${answer.status}: ${answer.text}`);
    return (answer.body as { status?: { allowed?: boolean } }).status?.allowed === true;
  }

  it('is allowed what the agent calls', async () => {
    const denied: string[] = [];
    for (const access of allowed) if (!(await isAllowed(access))) denied.push(show(access));
    expect(denied).toEqual([]);
  });

  it('is refused everything else tried, by SubjectAccessReview and by real calls with its token', async () => {
    const granted: string[] = [];
    for (const access of refused) if (await isAllowed(access)) granted.push(show(access));
    expect(granted).toEqual([]);

    const asAgent = KubeRest.as(server(), server().serviceAccount);
    expect((await asAgent.call('GET', '/api/v1/secrets')).status).toBe(403);
    expect((await asAgent.call('GET', '/api/v1/namespaces/kube-system/secrets')).status).toBe(403);
    expect((await asAgent.call('DELETE', '/api/v1/namespaces/default/pods/watched')).status).toBe(403);
    // Its events are its own to write, not anyone's to delete or to write through events.k8s.io.
    const events = await asAgent.call('GET', '/api/v1/namespaces/default/events');
    expect(events.status).toBe(403);
    const newApiEvent = await asAgent.call('POST', '/apis/events.k8s.io/v1/namespaces/default/events', {
      apiVersion: 'events.k8s.io/v1',
      kind: 'Event',
      metadata: { name: 'eni-ipam-e2e' },
      eventTime: '2026-01-01T00:00:00.000000Z',
      reportingController: 'eni-ipam',
      reportingInstance: NODE_NAME,
      action: 'Test',
      regarding: { kind: 'Node', name: NODE_NAME },
      reason: 'Test',
      type: 'Normal',
      note: 'must be refused',
    });
    expect(newApiEvent.status).toBe(403);
    // And what it may do works with the same token (not a 403 for every call).
    expect(
      (await asAgent.call('GET', `/api/v1/pods?fieldSelector=spec.nodeName%3D${NODE_NAME}`)).status,
    ).toBe(200);
    expect((await asAgent.call('GET', `/api/v1/nodes/${NODE_NAME}`)).status).toBe(200);
  });
});
