import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { NODE_VERSION, VERSION } from '../build-info.js';
import {
  CNI_REQUEST_BUCKETS_SECONDS,
  type CniCommand,
  type CniRequestResult,
  type CniRequestStats,
} from './cni-request-timing.js';
import { Ec2CallMetrics } from './ec2-call-metrics.js';
import type { MetricsSource } from './metrics-source.js';
import { registerNodeGauges } from './node-gauges.js';

/** How a CNI ADD ended. */
export type AddOutcome =
  /** An address was assigned (at once or after waiting). */
  | 'assigned'
  /** No address came within the wait bound: CNI error 11, try again later. */
  | 'no_address'
  /** The node is at max pods: failed at once. */
  | 'max_pods'
  /** Anything else (bad request, pool mismatch, internal error). */
  | 'error';

/**
 * Why an address was released through the DEL path. `PodDeleted` is the value the AWS VPC CNI's
 * plugin sends, kept so that dashboards filtering on it still match CNI DELs.
 */
export type DelReason =
  /** A CNI DEL. */
  | 'PodDeleted'
  /** A CNI GC: the reservation was not in cni.dev/valid-attachments. */
  | 'GarbageCollected'
  /** A DEL the plugin spooled while the agent was unreachable, applied at start. */
  | 'Spooled';

/** Why the agent found something held that nobody owns any more. */
export type LeakCause =
  /** The pod watch no longer shows the pod that holds the address. */
  | 'pod_gone'
  /** The pod's DEL arrived while the agent was down (found in the spool or at start-up). */
  | 'del_while_down'
  /** The KubeVirt VirtualMachine that kept the address was deleted. */
  | 'vm_deleted'
  /** An ENI of ours left `available`, attached to nothing. */
  | 'leaked_eni';

/** Every LeakCause, for series that start at zero (the dashboard's "leaks by cause"). */
export const LEAK_CAUSES: readonly LeakCause[] = ['pod_gone', 'del_while_down', 'vm_deleted', 'leaked_eni'];

/** Upper bounds (seconds) for the ADD wait histogram: instant, an assign (~1 s), an ENI (5-15 s), the 20 s bound. */
export const ADD_WAIT_BUCKETS_SECONDS = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2, 5, 10, 15, 20, 30];

/**
 * Every Prometheus metric of the agent, in a registry of its own (never prom-client's global one,
 * so tests and several agents in one process do not share counters). The pool gauges are computed
 * from `source` at scrape time; events are counted through the methods below; EC2 traffic through
 * `ec2`, which is the provider's `Ec2Observer`.
 */
export class AgentMetrics implements CniRequestStats {
  readonly registry: Registry;
  readonly ec2: Ec2CallMetrics;

  private readonly addRequests: Counter;
  private readonly addOutcomes: Counter<'outcome'>;
  private readonly delRequests: Counter<'reason'>;
  private readonly noAvailable: Counter;
  private readonly addWaitSeconds: Histogram<'outcome'>;
  private readonly cniRequestSeconds: Histogram<'command' | 'result'>;
  private readonly leaksFound: Counter<'cause'>;
  private readonly leaksReleased: Counter<'cause'>;
  private readonly watchRestarts: Counter<'watch' | 'reason'>;
  private readonly forceRemovedIps: Counter;
  private readonly forceRemovedEnis: Counter;
  private readonly unrecoveredEntries: Counter;
  private readonly ipamdErrors: Counter<'fn'>;
  private readonly reconciles: Counter<'fn'>;
  private readonly inProgress: Gauge<'fn'>;
  private readonly cloudWatchFailures: Counter<'error'>;
  private readonly cloudWatchDropped: Counter;
  private readonly checkpointWriteFailures: Counter;
  private readonly startupSeconds: Gauge;

  private source: MetricsSource | undefined;

  /**
   * `source` may come later (measure()): the composition root builds the metrics first because the
   * EC2 provider reports to `ec2` from its construction on, and the agent the gauges read is built
   * on that provider. Until then a scrape fails as it does while the agent is starting.
   */
  constructor(source?: MetricsSource) {
    this.registry = new Registry();
    const registers = [this.registry];
    this.source = source;
    registerNodeGauges(this.registry, {
      snapshot: () => {
        if (!this.source) throw new Error('the agent is not built yet');
        return this.source.snapshot();
      },
    });
    // Always 1: the labels carry the information (join on it to see which build a node runs).
    new Gauge({
      name: 'eniipam_build_info',
      help: 'The eni-ipam build this agent runs: its version and the Node.js version, as labels',
      labelNames: ['version', 'nodejs_version'],
      registers,
    }).set({ version: VERSION, nodejs_version: NODE_VERSION }, 1);
    this.ec2 = new Ec2CallMetrics(this.registry);

    this.addRequests = new Counter({
      name: 'awscni_add_ip_req_count',
      help: 'The number of add IP address requests',
      registers,
    });
    this.addOutcomes = new Counter({
      name: 'eniipam_add_requests_total',
      help: 'CNI ADD requests by outcome (assigned, no_address, max_pods, error)',
      labelNames: ['outcome'],
      registers,
    });
    this.delRequests = new Counter({
      name: 'awscni_del_ip_req_count',
      help: 'The number of delete IP address requests',
      labelNames: ['reason'],
      registers,
    });
    this.noAvailable = new Counter({
      name: 'awscni_no_available_ip_addresses',
      help: 'The number of pod IP assignments that fail due to no available IP addresses',
      registers,
    });
    this.addWaitSeconds = new Histogram({
      name: 'eniipam_add_wait_seconds',
      help: 'Time a CNI ADD waited for an address to arrive, by outcome (assigned, no_address)',
      labelNames: ['outcome'],
      buckets: ADD_WAIT_BUCKETS_SECONDS,
      registers,
    });
    this.cniRequestSeconds = new Histogram({
      name: 'eniipam_cni_request_duration_seconds',
      help: 'Time the agent took over a CNI request, from its last byte read on the socket to its answer written, by command (add, del, check, gc, status, unreadable) and result (ok, try_again, error)',
      labelNames: ['command', 'result'],
      buckets: CNI_REQUEST_BUCKETS_SECONDS,
      registers,
    });
    this.leaksFound = new Counter({
      name: 'eniipam_leaks_found_total',
      help: 'Addresses or ENIs found held without an owner, by cause',
      labelNames: ['cause'],
      registers,
    });
    this.leaksReleased = new Counter({
      name: 'eniipam_leaks_released_total',
      help: 'Leaked addresses or ENIs released after their grace period, by cause',
      labelNames: ['cause'],
      registers,
    });
    this.watchRestarts = new Counter({
      name: 'eniipam_kube_watch_restarts_total',
      help: 'Kubernetes watches restarted after an error or a stall, by watch and reason',
      labelNames: ['watch', 'reason'],
      registers,
    });
    this.forceRemovedIps = new Counter({
      name: 'awscni_force_removed_ips',
      help: 'The number of IPs force removed while they had assigned pods',
      registers,
    });
    this.forceRemovedEnis = new Counter({
      name: 'awscni_force_removed_enis',
      help: 'The number of ENIs force removed while they had assigned pods',
      registers,
    });
    this.unrecoveredEntries = new Counter({
      name: 'awscni_unrecovered_checkpoint_entries',
      help: 'The number of checkpointed pod allocations that could not be matched to the ENI pool during ipam state recovery',
      registers,
    });
    this.ipamdErrors = new Counter({
      name: 'awscni_ipamd_error_count',
      help: 'The number of errors encountered in ipamd',
      labelNames: ['fn'],
      registers,
    });
    this.reconciles = new Counter({
      name: 'awscni_reconcile_count',
      help: 'The number of times ipamd reconciles on ENIs and IP/Prefix addresses',
      labelNames: ['fn'],
      registers,
    });
    this.inProgress = new Gauge({
      name: 'awscni_ipamd_action_inprogress',
      help: 'The number of ipamd actions in progress',
      labelNames: ['fn'],
      registers,
    });
    this.cloudWatchFailures = new Counter({
      name: 'eniipam_cloudwatch_put_errors_total',
      help: 'PutMetricData calls that failed, by error code',
      labelNames: ['error'],
      registers,
    });
    this.cloudWatchDropped = new Counter({
      name: 'eniipam_cloudwatch_dropped_datums_total',
      help: 'CloudWatch data points dropped (queue full or rejected by CloudWatch)',
      registers,
    });
    this.checkpointWriteFailures = new Counter({
      name: 'eniipam_checkpoint_write_failures_total',
      help: 'Checkpoint saves that failed (the state on disk is older than the state in memory)',
      registers,
    });
    this.startupSeconds = new Gauge({
      name: 'awscni_ipamd_startup_duration_seconds',
      help: 'Seconds from the process start until the agent served CNI requests',
      registers,
    });
    // Series that dashboards divide by start at zero instead of appearing with the first event.
    this.addOutcomes.inc({ outcome: 'assigned' }, 0);
    this.addOutcomes.inc({ outcome: 'no_address' }, 0);
    for (const cause of LEAK_CAUSES) this.leaksFound.inc({ cause }, 0);
  }

  /** Reads the pool gauges from `source` (the node agent) from now on. */
  measure(source: MetricsSource): void {
    this.source = source;
  }

  /** One CNI ADD finished. `no_address` also counts awscni_no_available_ip_addresses. */
  addRequest(outcome: AddOutcome): void {
    this.addRequests.inc();
    this.addOutcomes.inc({ outcome });
    if (outcome === 'no_address') this.noAvailable.inc();
  }

  /** One release through the DEL path. */
  delRequest(reason: DelReason): void {
    this.delRequests.inc({ reason });
  }

  /** An ADD that found no free address waited `seconds` before being served or failing. */
  addWait(seconds: number, outcome: 'assigned' | 'no_address'): void {
    this.addWaitSeconds.observe({ outcome }, seconds);
  }

  /** The CNI endpoint answered a request `seconds` after reading it. */
  cniRequestServed(command: CniCommand, result: CniRequestResult, seconds: number): void {
    this.cniRequestSeconds.observe({ command, result }, seconds);
  }

  leakFound(cause: LeakCause, count = 1): void {
    this.leaksFound.inc({ cause }, count);
  }

  leakReleased(cause: LeakCause, count = 1): void {
    this.leaksReleased.inc({ cause }, count);
  }

  /** A Kubernetes watch stopped (error) or went silent (stall) and was restarted. */
  watchRestart(watch: 'pods' | 'virtualmachines' | 'namespaces', reason: 'error' | 'stall'): void {
    this.watchRestarts.inc({ watch, reason });
  }

  /** Assigned addresses that EC2 no longer shows (removed behind our back): the pods lost them. */
  ipsForceRemoved(count: number): void {
    this.forceRemovedIps.inc(count);
  }

  /** ENIs that disappeared from EC2 while holding assigned addresses. */
  enisForceRemoved(count: number): void {
    this.forceRemovedEnis.inc(count);
  }

  /** Checkpoint entries that matched no address on the node's ENIs at restore. */
  checkpointEntriesUnrecovered(count: number): void {
    this.unrecoveredEntries.inc(count);
  }

  /** An error the agent handled and survived; `fn` names the step (e.g. "reconcile", "checkpoint"). */
  error(fn: string): void {
    this.ipamdErrors.inc({ fn });
  }

  /** One reconcile pass; `fn` names which (e.g. "ec2_resync", "pod_watch"). */
  reconciled(fn: string): void {
    this.reconciles.inc({ fn });
  }

  /** Marks an action (e.g. "createEni") in progress until the returned function is called. */
  actionStarted(fn: string): () => void {
    this.inProgress.inc({ fn });
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.inProgress.dec({ fn });
    };
  }

  /** A checkpoint write failed: a restart now would rebuild more from EC2 than it should. */
  checkpointWriteFailed(): void {
    this.checkpointWriteFailures.inc();
  }

  /** The agent serves CNI requests, `seconds` after its process started. */
  startedUp(seconds: number): void {
    this.startupSeconds.set(seconds);
  }

  /** For the CloudWatch publisher (its `PublisherStats`). */
  putFailed(errorCode: string): void {
    this.cloudWatchFailures.inc({ error: errorCode });
  }

  datumsDropped(count: number): void {
    this.cloudWatchDropped.inc(count);
  }

  /** The exposition text of every metric; what /metrics serves. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
