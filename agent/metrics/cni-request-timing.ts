/**
 * How long the agent took over each CNI request, socket in to socket out: from the moment the
 * request's last byte was read from the socket (before parsing) to the moment its answer was
 * written. The plugin's own start-up and the runtime around it are not in it; an ADD that waited
 * for an address from EC2 is, whole. Kept twice: as a Prometheus histogram (its buckets tell 0.5, 1,
 * 2 and 5 ms apart) and as the exact durations of the most recent requests, which introspection
 * serves (/v1/cni-requests) for percentiles a histogram's buckets are too coarse for.
 */
import type { Clock } from '../../time/clock.js';

/** The CNI command a request carried; `unreadable` when it could not be parsed or was too large. */
export type CniCommand = 'add' | 'del' | 'check' | 'gc' | 'status' | 'unreadable';

/** How a request ended: answered with success, with CNI code 11 (try again later), or any other error. */
export type CniRequestResult = 'ok' | 'try_again' | 'error';

/** What the CNI endpoint reports once per request it answered. */
export interface CniRequestObserver {
  requestServed(command: CniCommand, result: CniRequestResult, ms: number): void;
}

/** One request as /v1/cni-requests shows it. */
export interface CniRequestSample {
  /** Requests answered before this one since the agent started: the next sample has seq + 1. */
  seq: number;
  command: CniCommand;
  result: CniRequestResult;
  /** Socket in to socket out, in milliseconds (microsecond precision). */
  ms: number;
  /** When the answer was written, ms since the epoch. */
  at: number;
}

/**
 * Upper bounds (seconds): 0.25 to 5 ms for ADDs served from a free address, then the range of ADDs
 * that wait for EC2 (an assign takes about 1 s, a new ENI 5-15 s, the wait is bounded at 20 s).
 */
export const CNI_REQUEST_BUCKETS_SECONDS = [
  0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30,
];

/** Recent requests kept: five bursts of 200 ADDs and their DELs fit, at about 20 KB. */
export const RECENT_CNI_REQUESTS = 2048;

const COMMANDS: readonly CniCommand[] = ['add', 'del', 'check', 'gc', 'status', 'unreadable'];
const RESULTS: readonly CniRequestResult[] = ['ok', 'try_again', 'error'];

/**
 * The last `capacity` requests in fixed typed arrays: recording one allocates nothing, and the
 * memory it takes never grows with the requests served.
 */
export class RecentCniRequests {
  private readonly ms: Float64Array;
  private readonly at: Float64Array;
  private readonly command: Uint8Array;
  private readonly result: Uint8Array;
  /** Requests recorded since the start; the next one goes at `recorded % capacity`. */
  private recorded = 0;

  constructor(private readonly capacity = RECENT_CNI_REQUESTS) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`capacity ${capacity} is not a positive integer`);
    this.ms = new Float64Array(capacity);
    this.at = new Float64Array(capacity);
    this.command = new Uint8Array(capacity);
    this.result = new Uint8Array(capacity);
  }

  record(command: CniCommand, result: CniRequestResult, ms: number, at: number): void {
    const slot = this.recorded % this.capacity;
    this.ms[slot] = ms;
    this.at[slot] = at;
    this.command[slot] = COMMANDS.indexOf(command);
    this.result[slot] = RESULTS.indexOf(result);
    this.recorded++;
  }

  /** The requests kept, oldest first; only those with seq >= `since` when given. */
  list(since = 0): CniRequestSample[] {
    const first = Math.max(since, this.recorded - this.capacity, 0);
    const out: CniRequestSample[] = [];
    for (let seq = first; seq < this.recorded; seq++) {
      const slot = seq % this.capacity;
      out.push({
        seq,
        command: COMMANDS[this.command[slot] ?? 0] ?? 'unreadable',
        result: RESULTS[this.result[slot] ?? 0] ?? 'error',
        ms: Math.round((this.ms[slot] ?? 0) * 1000) / 1000,
        at: this.at[slot] ?? 0,
      });
    }
    return out;
  }

  /** Requests recorded since the start (the seq the next one gets). */
  get total(): number {
    return this.recorded;
  }
}

/** Where the histogram goes (AgentMetrics implements it). */
export interface CniRequestStats {
  cniRequestServed(command: CniCommand, result: CniRequestResult, seconds: number): void;
}

/** The CNI endpoint's observer: every request into the histogram and the recent list. */
export class CniRequestTimings implements CniRequestObserver {
  readonly recent: RecentCniRequests;

  constructor(
    private readonly stats: CniRequestStats,
    private readonly clock: Pick<Clock, 'now'>,
    capacity = RECENT_CNI_REQUESTS,
  ) {
    this.recent = new RecentCniRequests(capacity);
  }

  requestServed(command: CniCommand, result: CniRequestResult, ms: number): void {
    this.stats.cniRequestServed(command, result, ms / 1000);
    this.recent.record(command, result, ms, this.clock.now());
  }
}
