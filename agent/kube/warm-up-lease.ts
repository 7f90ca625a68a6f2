/**
 * How a node tells the cluster that its warm-up is over (agent/warm-up-report.ts): one Lease in the
 * agent's namespace, labelled WARM_UP_LABEL, created once and never updated. The other nodes watch
 * these (agent/kube/recent-nodes.ts) and stop counting the node among those that divide the
 * account's EC2 buckets. Create is all the agent may do to Leases of its namespace: it can neither
 * change nor delete one (the namespace holds other components' leader-election Leases). The Lease
 * is owned by the node's Node object, so the garbage collector deletes it with the node; a node
 * that dies before it is warm never creates one, and its kubelet's own Lease expires instead.
 */
import { createHash } from 'node:crypto';
import type { V1Lease } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { Clock } from '../../time/clock.js';
import { KubeApiError } from '../errors.js';
import type { WarmUpSink } from '../warm-up-report.js';
import { KubeApi } from './kube-api.js';
import type { WatchLog } from './resilient-list-watch.js';

/** The label of the warm-up Leases, and the selector the nodes watch them with. */
export const WARM_UP_LABEL = 'eni-ipam.io/warm-up';
export const WARM_UP_SELECTOR = `${WARM_UP_LABEL}=done`;
/** Where the agent runs when its kubeconfig names no namespace (deploy/ installs it there). */
export const DEFAULT_AGENT_NAMESPACE = 'kube-system';

const NAME_PREFIX = 'eni-ipam-warm-up.';
/** A Lease's name is a DNS subdomain: at most 253 characters. */
const MAX_NAME = 253;
/** Attempts of the create, the first at once, then after 1, 2, 4 and 8 s. */
const CREATE_ATTEMPTS = 5;
const CREATE_RETRY_BASE_MS = 1_000;

/** The namespace the agent's kubeconfig names (a pod's service account: its own), else kube-system. */
export function agentNamespace(kubeConfig: KubeConfig): string {
  const context = kubeConfig.getContextObject(kubeConfig.getCurrentContext());
  return context?.namespace ?? DEFAULT_AGENT_NAMESPACE;
}

/** The Lease's name for a node: the node's name behind a prefix, hashed when that is too long. */
export function warmUpLeaseName(nodeName: string): string {
  const name = NAME_PREFIX + nodeName;
  if (name.length <= MAX_NAME) return name;
  return NAME_PREFIX + createHash('sha256').update(nodeName).digest('hex').slice(0, 40);
}

/** The Lease that says `nodeName` is warm; owned by its Node when the Node's uid is known. */
/* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment --
   client-node's V1* models are data-only classes and its API is meant to take plain objects. */
export function warmUpLease(nodeName: string, namespace: string, nodeUid?: string): V1Lease {
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: {
      name: warmUpLeaseName(nodeName),
      namespace,
      labels: { 'app.kubernetes.io/name': 'eni-ipam', [WARM_UP_LABEL]: 'done' },
      ...(nodeUid === undefined
        ? {}
        : { ownerReferences: [{ apiVersion: 'v1', kind: 'Node', name: nodeName, uid: nodeUid }] }),
    },
    spec: { holderIdentity: nodeName },
  };
}
/* eslint-enable @typescript-eslint/no-unsafe-class-instance-assignment */

/** The node a warm-up Lease speaks for (its holder), if it has one. */
export function warmUpNodeOf(lease: V1Lease): string | undefined {
  return lease.spec?.holderIdentity ?? undefined;
}

export interface KubeWarmUpLeaseOptions {
  kubeConfig: KubeConfig;
  nodeName: string;
  clock: Clock;
  log: WatchLog;
}

export class KubeWarmUpLease implements WarmUpSink {
  private readonly api: KubeApi;
  private sent: Promise<void> | undefined;

  constructor(private readonly options: KubeWarmUpLeaseOptions) {
    this.api = new KubeApi(options.kubeConfig);
  }

  done(): void {
    this.sent ??= this.create().catch((err: unknown) => {
      this.options.log.warn(
        { err: err instanceof Error ? err.message : String(err) },
        'could not publish the warm-up lease: other nodes keep counting this one as starting',
      );
    });
  }

  /** Resolves when the create is over (for tests and shutdown). */
  idle(): Promise<void> {
    return this.sent ?? Promise.resolve();
  }

  private async create(): Promise<void> {
    const { nodeName, clock, kubeConfig } = this.options;
    const namespace = agentNamespace(kubeConfig);
    // The owner reference lets the garbage collector delete the Lease with its node.
    const uid = await this.api.readNode({ name: nodeName }).then(
      (node) => node.metadata?.uid,
      () => undefined,
    );
    for (let attempt = 1; ; attempt++) {
      try {
        await this.api.createNamespacedLease({
          namespace,
          body: warmUpLease(nodeName, namespace, uid),
        });
        return;
      } catch (err) {
        // A restarted agent finds the Lease it created before.
        if (err instanceof KubeApiError && err.status === 409) return;
        const final = attempt >= CREATE_ATTEMPTS || (err instanceof KubeApiError && err.status === 403);
        if (final) throw err;
      }
      await clock.sleep(CREATE_RETRY_BASE_MS * 2 ** (attempt - 1));
    }
  }
}
