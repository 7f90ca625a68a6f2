/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment --
   client-node's V1* models are data-only classes and its API is meant to take plain objects. */
/**
 * What the Kubernetes end-to-end suites do to a real kube-apiserver (test/peers/kube.ts) as an
 * administrator: nodes and pods bound to them (no kubelet runs, so a pod is only an API object),
 * a minimal KubeVirt VirtualMachine CRD and its objects, and server-side apply with or without
 * dry run (kube-rest.ts). Every wait is bounded and names what it waited for.
 */
import {
  ApiextensionsV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  type KubernetesObject,
} from '@kubernetes/client-node';
import { systemClock } from '../../../time/clock.js';
import type { KubeRest, ManifestObject } from './kube-rest.js';

/** A CRD becomes Established within a second or two; an API server that needs longer is broken. */
const CRD_ESTABLISHED_TIMEOUT_MS = 30_000;
/** A pod deleted with grace period 0 is gone from etcd at once; this bounds the check. */
const POD_GONE_TIMEOUT_MS = 10_000;
const POLL_MS = 100;

export interface KubeClients {
  readonly config: KubeConfig;
  readonly core: CoreV1Api;
  readonly custom: CustomObjectsApi;
  readonly crds: ApiextensionsV1Api;
}

/** Clients for the user of a kubeconfig file (admin or the test service account). */
export function kubeClients(kubeconfigPath: string): KubeClients {
  const config = new KubeConfig();
  config.loadFromFile(kubeconfigPath);
  return {
    config,
    core: config.makeApiClient(CoreV1Api),
    custom: config.makeApiClient(CustomObjectsApi),
    crds: config.makeApiClient(ApiextensionsV1Api),
  };
}

/**
 * Polls `probe` until it returns a value other than undefined; fails after `timeoutMs` with
 * `what` and the last value or error seen (`describe` renders it).
 */
export async function eventually<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  timeoutMs: number,
  describe: () => string | Promise<string> = () => '',
): Promise<T> {
  const deadline = systemClock.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (systemClock.now() >= deadline) {
      const context = await describe();
      throw new Error(
        `not within ${timeoutMs} ms: ${what}${last ? ` (last error: ${last})` : ''}${context ? `\n${context}` : ''}`,
      );
    }
    await systemClock.sleep(POLL_MS);
  }
}

/** The API error's HTTP status (client-node 1.x throws ApiException with `code`). */
export function statusOf(err: unknown): number | undefined {
  return err !== null && typeof err === 'object' && 'code' in err && typeof err.code === 'number'
    ? err.code
    : undefined;
}

/** A Node object such as kubelet registers, with the zone label the agent reads for ENIConfig. */
export async function createNode(core: CoreV1Api, name: string, zone: string): Promise<void> {
  await core.createNode({
    body: {
      metadata: { name, labels: { 'kubernetes.io/hostname': name, 'topology.kubernetes.io/zone': zone } },
    },
  });
}

export interface BoundPod {
  readonly namespace: string;
  readonly name: string;
  /** Assigned by the API server: the K8S_POD_UID the runtime would pass to CNI. */
  readonly uid: string;
}

/** A pod already scheduled to `nodeName` (spec.nodeName set at creation, as a bound pod). */
/** Creates a namespace with annotations (placement defaults for its pods). */
export async function createNamespace(
  core: CoreV1Api,
  name: string,
  annotations: Record<string, string>,
): Promise<void> {
  await core.createNamespace({ body: { metadata: { name, annotations } } });
}

export async function createBoundPod(
  core: CoreV1Api,
  pod: {
    namespace: string;
    name: string;
    nodeName: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  },
): Promise<BoundPod> {
  const created = await core.createNamespacedPod({
    namespace: pod.namespace,
    body: {
      metadata: {
        name: pod.name,
        ...(pod.labels ? { labels: pod.labels } : {}),
        ...(pod.annotations ? { annotations: pod.annotations } : {}),
      },
      spec: { nodeName: pod.nodeName, containers: [{ name: 'main', image: 'registry.k8s.io/pause:3.10' }] },
    },
  });
  const uid = created.metadata?.uid;
  if (uid === undefined)
    throw new Error(`the API server returned pod ${pod.namespace}/${pod.name} without a uid`);
  return { namespace: pod.namespace, name: pod.name, uid };
}

/**
 * Deletes a pod with grace period 0 and waits until the API server no longer has it. Without a
 * kubelet a graceful delete only sets deletionTimestamp and the object stays forever.
 */
export async function deletePodNow(
  core: CoreV1Api,
  pod: Pick<BoundPod, 'namespace' | 'name'>,
): Promise<void> {
  await core.deleteNamespacedPod({ namespace: pod.namespace, name: pod.name, gracePeriodSeconds: 0 });
  await eventually(
    `pod ${pod.namespace}/${pod.name} is gone from the API server`,
    async () => {
      try {
        await core.readNamespacedPod({ namespace: pod.namespace, name: pod.name });
        return undefined;
      } catch (err) {
        if (statusOf(err) === 404) return true;
        throw err;
      }
    },
    POD_GONE_TIMEOUT_MS,
  );
}

// ---- KubeVirt ----

export const KUBEVIRT_GROUP = 'kubevirt.io';
export const KUBEVIRT_VERSION = 'v1';
export const VIRTUAL_MACHINES = 'virtualmachines';

/**
 * The smallest CRD that makes kubevirt.io/v1 VirtualMachine exist for the agent: same group,
 * version, kind, plural and scope as KubeVirt's; the schema keeps whatever a test writes.
 */
export const VIRTUAL_MACHINE_CRD: ManifestObject = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: `${VIRTUAL_MACHINES}.${KUBEVIRT_GROUP}` },
  spec: {
    group: KUBEVIRT_GROUP,
    scope: 'Namespaced',
    names: {
      kind: 'VirtualMachine',
      listKind: 'VirtualMachineList',
      plural: VIRTUAL_MACHINES,
      singular: 'virtualmachine',
      shortNames: ['vm'],
    },
    versions: [
      {
        name: KUBEVIRT_VERSION,
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true } },
      },
    ],
  },
};

/** Server-side applies a CRD (for real) and waits until its API is served (Established). */
export async function installCrd(rest: KubeRest, clients: KubeClients, crd: ManifestObject): Promise<void> {
  const answer = await rest.apply(crd, { dryRun: false });
  if (answer.status !== 200 && answer.status !== 201)
    throw new Error(`applying CRD ${crd.metadata.name} answered ${answer.status}: ${answer.text}`);
  const name = crd.metadata.name;
  await eventually(
    `CRD ${name} is Established`,
    async () => {
      const current = await clients.crds.readCustomResourceDefinition({ name });
      const established = current.status?.conditions?.some(
        (c) => c.type === 'Established' && c.status === 'True',
      );
      return established === true ? true : undefined;
    },
    CRD_ESTABLISHED_TIMEOUT_MS,
  );
}

export interface VirtualMachineRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

/** A VirtualMachine object; `running: false` is a stopped VM (no virt-launcher pod). */
export async function createVirtualMachine(
  custom: CustomObjectsApi,
  vm: { namespace: string; name: string },
): Promise<VirtualMachineRef> {
  const created = (await custom.createNamespacedCustomObject({
    group: KUBEVIRT_GROUP,
    version: KUBEVIRT_VERSION,
    namespace: vm.namespace,
    plural: VIRTUAL_MACHINES,
    body: {
      apiVersion: `${KUBEVIRT_GROUP}/${KUBEVIRT_VERSION}`,
      kind: 'VirtualMachine',
      metadata: { name: vm.name, namespace: vm.namespace },
      spec: { runStrategy: 'Always', template: { spec: { domain: { devices: {} } } } },
    },
  })) as KubernetesObject;
  const uid = created.metadata?.uid;
  if (uid === undefined)
    throw new Error(`the API server returned VM ${vm.namespace}/${vm.name} without a uid`);
  return { ...vm, uid };
}

/** Stops a VM as `virtctl stop` does: runStrategy Halted (its pod is deleted separately). */
export async function stopVirtualMachine(
  custom: CustomObjectsApi,
  vm: Pick<VirtualMachineRef, 'namespace' | 'name'>,
): Promise<void> {
  // A JSON patch (client-node's default content type for PATCH): every custom resource accepts it.
  await custom.patchNamespacedCustomObject({
    group: KUBEVIRT_GROUP,
    version: KUBEVIRT_VERSION,
    namespace: vm.namespace,
    plural: VIRTUAL_MACHINES,
    name: vm.name,
    body: [{ op: 'replace', path: '/spec/runStrategy', value: 'Halted' }],
  });
}

export async function deleteVirtualMachine(
  custom: CustomObjectsApi,
  vm: Pick<VirtualMachineRef, 'namespace' | 'name'>,
): Promise<void> {
  await custom.deleteNamespacedCustomObject({
    group: KUBEVIRT_GROUP,
    version: KUBEVIRT_VERSION,
    namespace: vm.namespace,
    plural: VIRTUAL_MACHINES,
    name: vm.name,
  });
}
