/**
 * KubeVirt VirtualMachines (kubevirt.io/v1, all namespaces), when that API exists. A stopped VM
 * has no pod, yet its address must stay with it so it comes back with the same one; the address is
 * released only when the VM itself is deleted (Kube-OVN leaked these until a 360 s GC). Clusters
 * without KubeVirt are the common case: the watch then stays off, without an error, and asks again
 * now and then in case KubeVirt is installed later.
 */
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node/dist/types.js';
import type { Clock, Timer } from '../../time/clock.js';
import {
  VM_API_DISCOVERY_INTERVAL_MS,
  WATCH_RESTART_BACKOFF_BASE_MS,
  WATCH_RESTART_BACKOFF_MAX_MS,
} from '../intervals.js';
import {
  ResilientListWatch,
  type RestartReason,
  type WatchHealth,
  type WatchLog,
} from './resilient-list-watch.js';
import { KubeApi } from './kube-api.js';

export const KUBEVIRT_GROUP = 'kubevirt.io';
export const KUBEVIRT_VERSION = 'v1';

export interface VmRef {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
}

/** discovering: not known yet; absent: no KubeVirt in this cluster; present: VMs are watched. */
export type VmApiState = 'discovering' | 'absent' | 'present';

export interface ClusterVirtualMachines {
  start(signal: AbortSignal): void;
  close(): Promise<void>;
  apiState(): VmApiState;
  /** The VMs that exist; empty when the API is absent. */
  list(): VmRef[];
  /**
   * True when list() is current: the API is absent (so no VM exists), or the watch is in sync.
   * While false, do not conclude that a VM is gone.
   */
  synced(): boolean;
  onChange(listener: () => void): () => void;
  /** For introspection; undefined while no watch runs (API absent or not yet discovered). */
  health(): WatchHealth | undefined;
}

export interface VirtualMachineWatchOptions {
  kubeConfig: KubeConfig;
  clock: Clock;
  log: WatchLog;
  random?: () => number;
  stallMs?: number;
  onRestart?: (reason: RestartReason) => void;
}

function toVmRef(obj: KubernetesObject): VmRef | undefined {
  const meta = obj.metadata;
  if (!meta?.uid || !meta.name || !meta.namespace) return undefined;
  return { uid: meta.uid, namespace: meta.namespace, name: meta.name };
}

export class VirtualMachineWatch implements ClusterVirtualMachines {
  private state: VmApiState = 'discovering';
  private watch: ResilientListWatch<KubernetesObject> | undefined;
  private readonly listeners = new Set<() => void>();
  private unsubscribe: (() => void) | undefined;
  private timer: Timer | undefined;
  private signal: AbortSignal | undefined;
  private failures = 0;
  private running = false;

  constructor(private readonly options: VirtualMachineWatchOptions) {}

  start(signal: AbortSignal): void {
    if (this.running) return;
    this.running = true;
    this.signal = signal;
    signal.addEventListener('abort', () => void this.close(), { once: true });
    void this.discover();
  }

  async close(): Promise<void> {
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
    this.unsubscribe?.();
    await this.watch?.close();
  }

  apiState(): VmApiState {
    return this.state;
  }

  list(): VmRef[] {
    if (!this.watch) return [];
    const vms: VmRef[] = [];
    for (const obj of this.watch.items()) {
      const ref = toVmRef(obj);
      if (ref) vms.push(ref);
    }
    return vms;
  }

  synced(): boolean {
    if (this.state === 'absent') return true;
    return this.state === 'present' && (this.watch?.synced() ?? false);
  }

  health(): WatchHealth | undefined {
    return this.watch?.health();
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async discover(): Promise<void> {
    let present: boolean;
    try {
      const groups = await new KubeApi(this.options.kubeConfig).getAPIVersions();
      present = groups.groups.some(
        (g) => g.name === KUBEVIRT_GROUP && g.versions.some((v) => v.version === KUBEVIRT_VERSION),
      );
    } catch (err) {
      if (!this.running) return;
      // Unknown is not absent: keep synced() false and ask again with back-off.
      const delay = Math.min(
        WATCH_RESTART_BACKOFF_MAX_MS,
        WATCH_RESTART_BACKOFF_BASE_MS * 2 ** Math.min(this.failures++, 30),
      );
      this.options.log.warn(
        { err: err instanceof Error ? err.message : err, delayMs: delay },
        'API group discovery failed',
      );
      this.schedule(delay);
      return;
    }
    if (!this.running) return;
    this.failures = 0;
    if (!present) {
      this.setState('absent');
      this.schedule(VM_API_DISCOVERY_INTERVAL_MS);
      return;
    }
    this.options.log.info(
      { group: `${KUBEVIRT_GROUP}/${KUBEVIRT_VERSION}` },
      'KubeVirt found: watching VirtualMachines',
    );
    this.watchVms();
  }

  private schedule(delayMs: number): void {
    this.timer = this.options.clock.setTimer(delayMs, () => {
      this.timer = undefined;
      if (this.running) void this.discover();
    });
  }

  private watchVms(): void {
    const api = new KubeApi(this.options.kubeConfig);
    const watch = new ResilientListWatch<KubernetesObject>({
      name: 'virtualmachines',
      kubeConfig: this.options.kubeConfig,
      path: `/apis/${KUBEVIRT_GROUP}/${KUBEVIRT_VERSION}/virtualmachines`,
      list: async () =>
        (await api.listClusterCustomObject({
          group: KUBEVIRT_GROUP,
          version: KUBEVIRT_VERSION,
          plural: 'virtualmachines',
        })) as KubernetesListObject<KubernetesObject>,
      clock: this.options.clock,
      log: this.options.log,
      ...(this.options.random ? { random: this.options.random } : {}),
      ...(this.options.stallMs !== undefined ? { stallMs: this.options.stallMs } : {}),
      ...(this.options.onRestart ? { onRestart: this.options.onRestart } : {}),
    });
    this.watch = watch;
    this.unsubscribe = watch.onChange(() => {
      this.notify();
    });
    this.setState('present');
    if (this.signal) watch.start(this.signal);
  }

  private setState(state: VmApiState): void {
    if (this.state === state) return;
    this.state = state;
    this.notify();
  }

  private notify(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (err) {
        this.options.log.warn({ err: err instanceof Error ? err.message : err }, 'VM watch listener failed');
      }
    }
  }
}
