/**
 * Writes the pool's shortage announcements (agent/shortage-announcer.ts) as core/v1 Events on the
 * node's Node object, where `kubectl describe node` and event exporters show them. A repeat of the
 * same shortage raises the count of its Event (a JSON patch) instead of writing a new object, as
 * client-go's recorder aggregates. Events are best effort: an API server that is down, slow or
 * refusing costs a log line and the event, never an ADD, a resync or the process.
 */
import type { CoreV1Event } from '@kubernetes/client-node';
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { ShortageCause } from '../../ipam/pool-rules.js';
import type { Clock } from '../../time/clock.js';
import { KubeApiError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { Announcement, NodeEventSink } from '../shortage-announcer.js';
import { KubeApi } from './kube-api.js';

/** The Event reason for each cause: stable, one per cause, so alerts and filters can key on it. */
export const SHORTAGE_EVENT_REASONS: Readonly<Record<ShortageCause, string>> = {
  'subnet-full': 'SubnetFull',
  'eni-limit': 'ENILimitReached',
  'address-limit': 'ENIAddressLimitReached',
  throttled: 'EC2Throttled',
  'ec2-unavailable': 'EC2Unavailable',
  'ec2-error': 'EC2Refused',
  'no-subnet': 'NoSubnetForENI',
  'max-pods': 'MaxPodsReached',
  cooling: 'AddressesCoolingDown',
};

/** The Normal event written once a reported shortage is over. */
export const SHORTAGE_RESOLVED_REASON = 'AddressPoolShortageResolved';

/** The reporting component, as `kubectl get events` shows it in SOURCE. */
export const EVENT_COMPONENT = 'eni-ipam';

/**
 * Node events live in the `default` namespace, as the kubelet writes them; the involved object's
 * uid is the node's name, as the kubelet sets it (`kubectl describe node` finds both forms).
 */
const NODE_EVENT_NAMESPACE = 'default';

/** A write the API server has not answered within this is given up (the next one may go). */
export const EVENT_WRITE_TIMEOUT_MS = 10_000;

/** What the sink needs of the API (tests pass the real one against a fake server). */
export type EventsApi = Pick<KubeApi, 'createNamespacedEvent' | 'patchNamespacedEvent'>;

export interface KubeNodeEventsDeps {
  nodeName: string;
  clock: Clock;
  logger: Pick<Logger, 'info' | 'warn'>;
  api: EventsApi;
  /** Suffix of event names; Math.random when absent (tests pin it). */
  random?: () => number;
  writeTimeoutMs?: number;
}

export class KubeNodeEvents implements NodeEventSink {
  /** The Event of the shortage now reported, which its repeats patch. */
  private current: { cause: ShortageCause; name: string; firstAt: string } | undefined;
  private inFlight: Promise<void> | undefined;
  private written = 0;

  constructor(private readonly deps: KubeNodeEventsDeps) {}

  static forKubeConfig(kubeConfig: KubeConfig, deps: Omit<KubeNodeEventsDeps, 'api'>): KubeNodeEvents {
    return new KubeNodeEvents({ ...deps, api: new KubeApi(kubeConfig) });
  }

  record(event: Announcement): void {
    if (this.inFlight) {
      // One write at a time: an API server that hangs must not collect a queue of them.
      this.deps.logger.warn(
        { reason: reasonOf(event), message: event.message },
        'node event dropped: the previous event write has not finished',
      );
      return;
    }
    const write = this.withTimeout(this.write(event)).then(
      () => undefined,
      (err: unknown) => {
        this.deps.logger.warn(
          { reason: reasonOf(event), err: err instanceof Error ? err.message : String(err) },
          'node event dropped: the API server did not take it',
        );
      },
    );
    this.inFlight = write;
    void write.finally(() => {
      if (this.inFlight === write) this.inFlight = undefined;
    });
  }

  /** Resolves once the write under way (if any) has finished or been given up; for tests and shutdown. */
  async idle(): Promise<void> {
    await this.inFlight;
  }

  private async write(event: Announcement): Promise<void> {
    const now = new Date(this.deps.clock.now()).toISOString();
    const current = this.current;
    if (event.type === 'Warning' && event.count > 1 && current?.cause === event.cause) {
      try {
        await this.deps.api.patchNamespacedEvent({
          name: current.name,
          namespace: NODE_EVENT_NAMESPACE,
          body: [
            { op: 'replace', path: '/count', value: event.count },
            { op: 'replace', path: '/lastTimestamp', value: now },
            { op: 'replace', path: '/message', value: event.message },
          ],
        });
        return;
      } catch (err) {
        // Expired (events live an hour by default) or deleted: write it anew below.
        if (statusOf(err) !== 404) throw err;
      }
    }
    // Unique as client-go's names are (node, time), plus this process's count and a random part
    // so that two writes within a millisecond, or two agent processes, never collide.
    this.written++;
    const name = `${this.deps.nodeName}.${this.deps.clock.now().toString(16)}${this.written.toString(16)}${suffix(this.deps.random)}`;
    const firstAt = event.type === 'Warning' && current?.cause === event.cause ? current.firstAt : now;
    this.current = event.type === 'Warning' ? { cause: event.cause, name, firstAt } : undefined;
    await this.deps.api.createNamespacedEvent({
      namespace: NODE_EVENT_NAMESPACE,
      body: this.eventObject(event, name, firstAt, now),
    });
  }

  /* eslint-disable @typescript-eslint/no-unsafe-class-instance-assignment --
     client-node's V1* models are data-only classes and its API is meant to take plain objects. */
  private eventObject(event: Announcement, name: string, firstAt: string, now: string): CoreV1Event {
    const { nodeName } = this.deps;
    return {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name, namespace: NODE_EVENT_NAMESPACE },
      involvedObject: { apiVersion: 'v1', kind: 'Node', name: nodeName, uid: nodeName },
      reason: reasonOf(event),
      message: event.message,
      type: event.type,
      count: event.type === 'Warning' ? event.count : 1,
      firstTimestamp: new Date(firstAt),
      lastTimestamp: new Date(now),
      source: { component: EVENT_COMPONENT, host: nodeName },
      reportingComponent: EVENT_COMPONENT,
      reportingInstance: nodeName,
    };
  }
  /* eslint-enable @typescript-eslint/no-unsafe-class-instance-assignment */

  private withTimeout(work: Promise<void>): Promise<void> {
    const ms = this.deps.writeTimeoutMs ?? EVENT_WRITE_TIMEOUT_MS;
    return new Promise((resolve, reject) => {
      const timer = this.deps.clock.setTimer(ms, () => {
        reject(new Error(`no answer within ${ms} ms`));
      });
      work.then(
        () => {
          timer.cancel();
          resolve();
        },
        (err: unknown) => {
          timer.cancel();
          reject(err instanceof Error ? err : new Error(String(err)));
        },
      );
    });
  }
}

export function reasonOf(event: Announcement): string {
  return event.type === 'Normal' ? SHORTAGE_RESOLVED_REASON : SHORTAGE_EVENT_REASONS[event.cause];
}

function statusOf(err: unknown): number | undefined {
  return err instanceof KubeApiError ? err.status : undefined;
}

function suffix(random: (() => number) | undefined): string {
  return Math.floor((random ?? Math.random)() * 0xffff)
    .toString(16)
    .padStart(4, '0');
}
