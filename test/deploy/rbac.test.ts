/**
 * deploy/rbac.yaml grants exactly what the agent uses. "What the agent uses" is measured, not
 * retyped: the agent's Kubernetes parts, built as the agent builds them (createKubeSources), run
 * against a recording API server, and every request is turned into the RBAC permission it needs.
 * A scan of agent/ for calls of the agent's API methods (agent/kube/kube-api.ts) makes sure the
 * exercise misses no call: a new call fails this test until the exercise (and so the ClusterRole)
 * covers it.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ENICONFIG_GROUP, ENICONFIG_VERSION } from '../../agent/kube/eni-config.js';
import { KubeApi } from '../../agent/kube/kube-api.js';
import { createKubeSources } from '../../agent/kube/kube-sources.js';
import { KUBEVIRT_GROUP, KUBEVIRT_VERSION } from '../../agent/kube/vm-watch.js';
import { silentLogger } from '../../agent/logger.js';
import { ManualClock } from '../../time/manual-clock.js';
import { FakeApiServer, pod, type RecordedRequest } from '../agent/kube-fake-api-server.js';
import { REPO_ROOT, findObject, loadManifests, type KubeObject, type PolicyRule } from './manifests.js';

/** The API methods (KubeApi's) the exercise below calls, through the agent's own code. */
const EXERCISED_METHODS = [
  'listPodForAllNamespaces',
  'readNode',
  'getClusterCustomObject',
  'getAPIVersions',
  'listClusterCustomObject',
  'listNamespace',
  'createNamespacedEvent',
  'patchNamespacedEvent',
  'listNamespacedLease',
  'createNamespacedLease',
];

interface Permission {
  group: string;
  resource: string;
  verb: string;
}

/**
 * The permission a request needs, by the API server's URL conventions; undefined for discovery
 * (/api, /apis, /apis/<group>/<version>), which the default system:discovery role grants to
 * every authenticated client.
 */
export function permissionFor(
  req: Pick<RecordedRequest, 'method' | 'path' | 'watch'>,
): Permission | undefined {
  const parts = req.path.split('/').filter((p) => p !== '');
  let group: string;
  let rest: string[];
  if (parts[0] === 'api') {
    group = '';
    rest = parts.slice(2);
  } else if (parts[0] === 'apis') {
    group = parts[1] ?? '';
    rest = parts.slice(3);
  } else {
    throw new Error(`not a Kubernetes API path: ${req.path}`);
  }
  if (rest.length === 0) return undefined;
  // /namespaces/<ns>/<resource>[/<name>] is namespaced; /namespaces[/<name>] is the namespaces resource.
  if (rest[0] === 'namespaces' && rest.length >= 3) rest = rest.slice(2);
  const [resource = '', name, subresource] = rest;
  const named = name !== undefined;
  let verb: string;
  switch (req.method) {
    case 'GET':
      verb = req.watch ? 'watch' : named ? 'get' : 'list';
      break;
    case 'POST':
      verb = 'create';
      break;
    case 'PUT':
      verb = 'update';
      break;
    case 'PATCH':
      verb = 'patch';
      break;
    case 'DELETE':
      verb = named ? 'delete' : 'deletecollection';
      break;
    default:
      throw new Error(`unexpected method ${req.method} ${req.path}`);
  }
  return { group, resource: subresource ? `${resource}/${subresource}` : resource, verb };
}

const key = (p: Permission): string => `${p.group}|${p.resource}|${p.verb}`;

function granted(rules: readonly PolicyRule[]): string[] {
  const out = new Set<string>();
  for (const rule of rules) {
    expect(rule.resourceNames, 'resourceNames: the agent names its node at run time').toBeUndefined();
    expect(rule.nonResourceURLs).toBeUndefined();
    for (const group of rule.apiGroups)
      for (const resource of rule.resources)
        for (const verb of rule.verbs) {
          expect([group, resource, verb].includes('*'), 'no wildcards').toBe(false);
          out.add(key({ group, resource, verb }));
        }
  }
  return [...out].sort();
}

function sourceFiles(dir: string): string[] {
  return readdirSync(join(REPO_ROOT, dir), { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(REPO_ROOT, dir, f));
}

/** The public request methods of KubeApi (its one way to the API server). */
function apiMethods(): Set<string> {
  const methods = Object.getOwnPropertyNames(KubeApi.prototype).filter(
    (m) => m !== 'constructor' && m !== 'send',
  );
  return new Set(methods);
}

const server = new FakeApiServer();
const NODE = 'ip-10-0-1-5.ec2.internal';
const PODS = '/api/v1/pods';
const NAMESPACES = '/api/v1/namespaces';
const VMS = `/apis/${KUBEVIRT_GROUP}/${KUBEVIRT_VERSION}/virtualmachines`;
const EVENTS = '/api/v1/namespaces/default/events';
const LEASES = '/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases';
/** The agent's own namespace (its kubeconfig names none here): its warm-up Leases. */
const WARM_UP_LEASES = '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases';
let workDir: string;
let used: string[];

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!check()) throw new Error(`timed out waiting for: ${what}`);
}

beforeAll(async () => {
  server.collection(PODS, 'PodList');
  server.collection(VMS, 'VirtualMachineList');
  server.collection(NAMESPACES, 'NamespaceList');
  server.collection(EVENTS, 'EventList');
  server.collection(LEASES, 'LeaseList');
  server.collection(WARM_UP_LEASES, 'LeaseList');
  server.apiGroups = [{ name: KUBEVIRT_GROUP, versions: [KUBEVIRT_VERSION] }];
  server.setObject(`/api/v1/nodes/${NODE}`, {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: { name: NODE, labels: { 'topology.kubernetes.io/zone': 'us-east-1a' } },
  });
  await server.start();
  server.add(PODS, pod('web-1', NODE));

  workDir = mkdtempSync(join(tmpdir(), 'eni-ipam-rbac-'));
  const kubeconfig = join(workDir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: server.url, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 'agent' } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'c',
    }),
  );

  // Everything the agent's Kubernetes parts do, built the way the agent builds them.
  const sources = createKubeSources({
    config: { kubeconfig, nodeName: NODE },
    clock: new ManualClock(),
    log: silentLogger(),
  });
  const abort = new AbortController();
  sources.pods.start(abort.signal);
  sources.virtualMachines.start(abort.signal);
  sources.namespaces.start(abort.signal);
  await sources.recentNodes.start();
  // The node's warm-up is over: its Lease is created (owned by its Node, read for its uid).
  sources.warmUp.done();
  await sources.warmUp.idle();
  expect(
    server.objects(WARM_UP_LEASES).map((l) => (l['spec'] as { holderIdentity?: string }).holderIdentity),
  ).toEqual([NODE]);
  const facts = await sources.eniConfigs.node(NODE);
  await sources.eniConfigs.eniConfig(facts.availabilityZone ?? 'us-east-1a');
  await sources.pods.waitUntilSynced();
  await eventually(
    () =>
      server.watchRequests(PODS).length > 0 &&
      server.watchRequests(VMS).length > 0 &&
      server.watchRequests(NAMESPACES).length > 0 &&
      server.watchRequests(WARM_UP_LEASES).length > 0,
    'the pod, VM, namespace and warm-up lease watches',
  );
  // A shortage reported, repeated (the same Event's count raised), and over.
  const shortage = { cause: 'eni-limit', message: 'the node is at its ENI limit' } as const;
  sources.nodeEvents.record({ type: 'Warning', ...shortage, count: 1 });
  await sources.nodeEvents.idle();
  sources.nodeEvents.record({ type: 'Warning', ...shortage, count: 2 });
  await sources.nodeEvents.idle();
  sources.nodeEvents.record({ type: 'Normal', ...shortage });
  await sources.nodeEvents.idle();
  expect(server.objects(EVENTS).map((e) => e['count'])).toEqual([2, 1]);
  abort.abort();
  await sources.pods.close();
  await sources.virtualMachines.close();
  await sources.namespaces.close();
  await sources.recentNodes.close();

  const permissions = server.requests.map(permissionFor).filter((p): p is Permission => p !== undefined);
  used = [...new Set(permissions.map(key))].sort();
});

afterAll(async () => {
  await server.stop();
  rmSync(workDir, { recursive: true, force: true });
});

describe('deploy/rbac.yaml', () => {
  it('maps API requests to permissions as the API server does', () => {
    expect(permissionFor({ method: 'GET', path: '/api/v1/pods', watch: true })).toEqual({
      group: '',
      resource: 'pods',
      verb: 'watch',
    });
    expect(permissionFor({ method: 'GET', path: '/api/v1/namespaces/default/pods/p', watch: false })).toEqual(
      {
        group: '',
        resource: 'pods',
        verb: 'get',
      },
    );
    expect(permissionFor({ method: 'GET', path: '/api/v1/namespaces/kube-system', watch: false })).toEqual({
      group: '',
      resource: 'namespaces',
      verb: 'get',
    });
    expect(
      permissionFor({ method: 'POST', path: '/api/v1/namespaces/default/events', watch: false }),
    ).toEqual({
      group: '',
      resource: 'events',
      verb: 'create',
    });
    expect(permissionFor({ method: 'PATCH', path: '/api/v1/nodes/n/status', watch: false })).toEqual({
      group: '',
      resource: 'nodes/status',
      verb: 'patch',
    });
    expect(permissionFor({ method: 'GET', path: '/apis', watch: false })).toBeUndefined();
  });

  it('the exercise reached every kind of call the agent makes', () => {
    expect(used).toEqual(
      [
        key({ group: '', resource: 'pods', verb: 'list' }),
        key({ group: '', resource: 'pods', verb: 'watch' }),
        key({ group: '', resource: 'nodes', verb: 'get' }),
        key({ group: '', resource: 'namespaces', verb: 'list' }),
        key({ group: '', resource: 'namespaces', verb: 'watch' }),
        key({ group: '', resource: 'events', verb: 'create' }),
        key({ group: '', resource: 'events', verb: 'patch' }),
        key({ group: ENICONFIG_GROUP, resource: 'eniconfigs', verb: 'get' }),
        key({ group: KUBEVIRT_GROUP, resource: 'virtualmachines', verb: 'list' }),
        key({ group: KUBEVIRT_GROUP, resource: 'virtualmachines', verb: 'watch' }),
        key({ group: 'coordination.k8s.io', resource: 'leases', verb: 'list' }),
        key({ group: 'coordination.k8s.io', resource: 'leases', verb: 'watch' }),
        key({ group: 'coordination.k8s.io', resource: 'leases', verb: 'create' }),
      ].sort(),
    );
    expect(server.lists(PODS)[0]?.query.get('fieldSelector')).toBe(`spec.nodeName=${NODE}`);
    expect(
      server.requests.some((r) => r.path.startsWith(`/apis/${ENICONFIG_GROUP}/${ENICONFIG_VERSION}/`)),
    ).toBe(true);
  });

  it('agent/ calls no API method that the exercise leaves out', () => {
    const sources = [...sourceFiles('agent'), ...sourceFiles('cli')].map((f) => readFileSync(f, 'utf8'));
    // Every request goes through KubeApi, whose methods the scan below knows. client-node's
    // generated API classes (makeApiClient) would escape it, and KubernetesObjectApi takes the
    // resource at run time (read/list/patch any kind): a scan of method names cannot tell what it
    // reaches. The agent uses neither.
    expect(sources.some((s) => s.includes('KubernetesObjectApi') || s.includes('makeApiClient'))).toBe(false);
    const methods = apiMethods();
    expect(methods.size).toBeGreaterThan(0);
    const called = new Set<string>();
    for (const source of sources) {
      for (const match of source.matchAll(/\.(\w+)\s*\(/g)) if (methods.has(match[1]!)) called.add(match[1]!);
    }
    expect([...called].sort()).toEqual([...EXERCISED_METHODS].sort());
  });

  it('agent/ opens no watch that the exercise leaves out', () => {
    let constructed = 0;
    for (const file of sourceFiles('agent')) {
      const source = readFileSync(file, 'utf8');
      constructed += [...source.matchAll(/new\s+(ResilientListWatch|ListWatch|Watch|ObservedWatch)\b/g)]
        .length;
    }
    // resilient-list-watch.ts builds one ListWatch over one ObservedWatch for each watch the
    // agent opens with `new ResilientListWatch` (pods, VMs, namespaces, warm-up leases): 2 + one per
    // watched collection.
    const watched = new Set(server.requests.filter((r) => r.watch).map((r) => r.path));
    expect(constructed).toBe(2 + watched.size);
  });

  it('grants exactly the permissions the agent used, and nothing else; Lease writes and watches only in its namespace', () => {
    const manifests = loadManifests();
    const role = findObject(manifests, 'ClusterRole') as KubeObject & { rules: PolicyRule[] };
    const local = findObject(manifests, 'Role') as KubeObject & { rules: PolicyRule[] };
    expect([...new Set([...granted(role.rules), ...granted(local.rules)])].sort()).toEqual(used);
    // The namespaced Role holds what the agent does in its own namespace only (kube-system)...
    expect(local.metadata.namespace).toBe('kube-system');
    expect(granted(local.rules)).toEqual(
      [
        key({ group: 'coordination.k8s.io', resource: 'leases', verb: 'create' }),
        key({ group: 'coordination.k8s.io', resource: 'leases', verb: 'watch' }),
      ].sort(),
    );
    const localOnly = new Set(granted(local.rules));
    for (const req of server.requests) {
      const permission = permissionFor(req);
      if (permission && localOnly.has(key(permission)))
        expect(req.path.startsWith('/apis/coordination.k8s.io/v1/namespaces/kube-system/'), req.path).toBe(
          true,
        );
    }
    // ...and neither Lease update nor delete anywhere: the namespace holds leader-election Leases.
    for (const rules of [role.rules, local.rules])
      for (const rule of rules)
        if (rule.resources.includes('leases'))
          expect(rule.verbs).not.toEqual(expect.arrayContaining(['update']));
    const localBinding = findObject(manifests, 'RoleBinding') as KubeObject & {
      roleRef: { kind: string; name: string };
    };
    expect(localBinding.metadata.namespace).toBe('kube-system');
    expect(localBinding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: local.metadata.name,
    });
    const binding = findObject(manifests, 'ClusterRoleBinding') as KubeObject & {
      roleRef: { kind: string; name: string };
    };
    expect(binding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'ClusterRole',
      name: role.metadata.name,
    });
  });
});
