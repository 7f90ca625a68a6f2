/**
 * A client-node ListWatch that keeps going. ListWatch relists after a 410 Gone and resumes after
 * the server ends a watch, but any other error (a 500, a 403, a refused connection, a failed
 * list) stops it for good, and a half-dead connection stops it silently. This wrapper restarts it
 * with capped, jittered back-off after an error and at once after a stall (no sign of life for
 * WATCH_STALL_MS), and keeps its own snapshot so that readers never see an empty cache while a new
 * ListWatch relists.
 */
import { ListWatch } from '@kubernetes/client-node/dist/cache.js';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { KubernetesListObject, KubernetesObject } from '@kubernetes/client-node/dist/types.js';
import type { Clock, Timer } from '../../time/clock.js';
import {
  WATCH_RESTART_BACKOFF_BASE_MS,
  WATCH_RESTART_BACKOFF_MAX_MS,
  WATCH_SERVER_TIMEOUT_SECONDS,
  WATCH_STALL_MS,
} from '../intervals.js';
import type { Logger } from '../logger.js';
import { ObservedWatch } from './observed-watch.js';

export type WatchLog = Pick<Logger, 'debug' | 'info' | 'warn'>;

export type RestartReason = 'error' | 'stall';

/** For introspection and tests: how the watch is doing. */
export interface WatchHealth {
  readonly synced: boolean;
  /** Clock time of the last sign of life: a list, an open stream, any line on it. */
  readonly lastActivityAt: number;
  readonly restarts: Readonly<Record<RestartReason, number>>;
}

export interface ResilientListWatchOptions<T extends KubernetesObject> {
  /** For logs: "pods", "virtualmachines". */
  name: string;
  kubeConfig: KubeConfig;
  /** Watch path, e.g. /api/v1/pods. */
  path: string;
  /** The list call; it must apply the same selectors as `fieldSelector` and `labelSelector`. */
  list: () => Promise<KubernetesListObject<T>>;
  fieldSelector?: string;
  labelSelector?: string;
  clock: Clock;
  log: WatchLog;
  /** For back-off jitter; Math.random when absent. */
  random?: () => number;
  stallMs?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  watchTimeoutSeconds?: number;
  /** Counted by the agent's metrics. */
  onRestart?: (reason: RestartReason) => void;
}

function keyOf(obj: KubernetesObject): string {
  return `${obj.metadata?.namespace ?? ''}/${obj.metadata?.name ?? ''}`;
}

export class ResilientListWatch<T extends KubernetesObject> {
  private readonly objects = new Map<string, T>();
  private readonly listeners = new Set<() => void>();
  private readonly stallMs: number;
  private readonly random: () => number;
  private generation = 0;
  private current: ListWatch<T> | undefined;
  private restartTimer: Timer | undefined;
  private watchdog: Timer | undefined;
  private lastActivity = 0;
  private failures = 0;
  private inSync = false;
  private running = false;
  private waiters: (() => void)[] = [];
  private readonly restarts: Record<RestartReason, number> = { error: 0, stall: 0 };

  constructor(private readonly options: ResilientListWatchOptions<T>) {
    this.stallMs = options.stallMs ?? WATCH_STALL_MS;
    this.random = options.random ?? Math.random;
  }

  /** Starts listing and watching; stops when `signal` aborts or close() is called. */
  start(signal: AbortSignal): void {
    if (this.running) return;
    this.running = true;
    if (signal.aborted) {
      void this.close();
      return;
    }
    signal.addEventListener('abort', () => void this.close(), { once: true });
    this.begin();
  }

  async close(): Promise<void> {
    this.running = false;
    this.generation++;
    this.restartTimer?.cancel();
    this.watchdog?.cancel();
    this.restartTimer = undefined;
    this.watchdog = undefined;
    const lw = this.current;
    this.current = undefined;
    for (const wake of this.waiters.splice(0)) wake();
    await lw?.stop();
  }

  /** The objects as of the last list plus the events since. Kept across restarts. */
  items(): T[] {
    return [...this.objects.values()];
  }

  /**
   * True when a list has succeeded and nothing has gone wrong since: the snapshot is current.
   * False before the first list and from an error or stall until the relist that follows.
   */
  synced(): boolean {
    return this.inSync;
  }

  health(): WatchHealth {
    return { synced: this.inSync, lastActivityAt: this.lastActivity, restarts: { ...this.restarts } };
  }

  /** Called after every change of the snapshot or of synced(). Returns an unsubscribe function. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Resolves when synced() is true, or when the watch is closed. */
  waitUntilSynced(): Promise<void> {
    if (this.inSync || !this.running) return Promise.resolve();
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  private begin(): void {
    const gen = ++this.generation;
    const live = (): boolean => gen === this.generation;
    const { kubeConfig, path, fieldSelector, labelSelector } = this.options;
    const watch = new ObservedWatch(
      kubeConfig,
      this.options.watchTimeoutSeconds ?? WATCH_SERVER_TIMEOUT_SECONDS,
      {
        established: () => {
          if (!live()) return;
          this.markActivity();
          // Back-off restarts from its base only once a watch is really open again, so a server
          // that lists fine but refuses watches is not listed from once a second.
          this.failures = 0;
        },
        line: () => {
          if (live()) this.markActivity();
        },
      },
    );
    const list = async (): Promise<KubernetesListObject<T>> => {
      const result = await this.options.list();
      if (live()) this.replaceAll(result.items);
      return result;
    };
    const lw = new ListWatch<T>(path, watch, list, false, labelSelector, fieldSelector);
    lw.on('add', (obj) => {
      if (live()) this.upsert(obj);
    });
    lw.on('update', (obj) => {
      if (live()) this.upsert(obj);
    });
    lw.on('delete', (obj) => {
      if (live()) this.remove(obj);
    });
    lw.on('error', (err) => {
      if (live()) this.restart('error', err);
    });
    this.current = lw;
    this.markActivity();
    this.armWatchdog();
    lw.start().catch((err: unknown) => {
      if (live()) this.restart('error', err);
    });
  }

  private restart(reason: RestartReason, err?: unknown): void {
    if (!this.running) return;
    this.generation++;
    this.watchdog?.cancel();
    this.watchdog = undefined;
    const lw = this.current;
    this.current = undefined;
    // Its abort shows up as one more error, from a generation already left behind.
    void lw?.stop();
    this.setSynced(false);
    this.restarts[reason]++;
    this.options.onRestart?.(reason);
    const delay = reason === 'stall' ? 0 : this.backoff();
    this.options.log.warn(
      { watch: this.options.name, reason, delayMs: delay, err: err instanceof Error ? err.message : err },
      `${this.options.name} watch stopped; restarting`,
    );
    this.restartTimer = this.options.clock.setTimer(delay, () => {
      this.restartTimer = undefined;
      if (this.running) this.begin();
    });
  }

  private backoff(): number {
    const base = this.options.backoffBaseMs ?? WATCH_RESTART_BACKOFF_BASE_MS;
    const max = this.options.backoffMaxMs ?? WATCH_RESTART_BACKOFF_MAX_MS;
    const ceiling = Math.min(max, base * 2 ** Math.min(this.failures, 30));
    this.failures++;
    // Equal jitter: never less than half the step, so many nodes that lost the same API server
    // spread their relists out instead of returning together.
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }

  private markActivity(): void {
    this.lastActivity = this.options.clock.now();
  }

  /** One timer at a time, re-armed lazily: no timer churn per event. */
  private armWatchdog(): void {
    const gen = this.generation;
    const due = this.lastActivity + this.stallMs - this.options.clock.now();
    this.watchdog = this.options.clock.setTimer(Math.max(0, due), () => {
      this.watchdog = undefined;
      if (gen !== this.generation || !this.running) return;
      if (this.options.clock.now() - this.lastActivity >= this.stallMs) this.restart('stall');
      else this.armWatchdog();
    });
  }

  private replaceAll(items: readonly T[]): void {
    this.objects.clear();
    for (const obj of items) this.objects.set(keyOf(obj), obj);
    this.markActivity();
    this.inSync = true;
    for (const wake of this.waiters.splice(0)) wake();
    this.notify();
  }

  private upsert(obj: T): void {
    this.objects.set(keyOf(obj), obj);
    this.notify();
  }

  private remove(obj: T): void {
    if (this.objects.delete(keyOf(obj))) this.notify();
  }

  private setSynced(value: boolean): void {
    if (this.inSync === value) return;
    this.inSync = value;
    this.notify();
  }

  private notify(): void {
    for (const listener of this.listeners) {
      try {
        listener();
      } catch (err) {
        this.options.log.warn(
          { watch: this.options.name, err: err instanceof Error ? err.message : err },
          'watch listener failed',
        );
      }
    }
  }
}
