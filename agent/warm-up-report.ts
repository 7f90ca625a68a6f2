/**
 * Tells the cluster once that this node's warm-up is over, so that the nodes still setting up take
 * its share of the account's EC2 buckets (provider/contenders.ts). `warmUpDone` is the pure rule;
 * `WarmUpReporter` looks every WARM_UP_CHECK_MS from the agent's start until the rule holds, hands
 * the news to a sink (agent/kube/warm-up-lease.ts on a node, the simulator's cluster in a run) and
 * stops: later churn of the pool does not make the node a contender of a scale-up again.
 */
import { repeatEvery, type Clock } from '../time/clock.js';
import type { NodeAgentView } from './node-agent.js';

/** How often the reporter looks; the contenders' count lags the node by about this much. */
export const WARM_UP_CHECK_MS = 2_000;

/** Fields of the agent's view the rule reads. */
export type WarmUpView = Pick<NodeAgentView, 'ready' | 'waiting' | 'inFlight'> & {
  decision: { plan: { defaultPool: { short: number } } };
};

/**
 * Warm-up is over once the first reconcile is done, no ADD waits, nothing is under way at EC2 and
 * the default pool meets its warm target.
 */
export function warmUpDone(view: WarmUpView): boolean {
  return (
    view.ready &&
    view.waiting === 0 &&
    view.inFlight.enis + view.inFlight.units === 0 &&
    view.decision.plan.defaultPool.short === 0
  );
}

/** Where the news goes: never throws, never blocks the agent. */
export interface WarmUpSink {
  done(): void;
}

export interface WarmUpReporterDeps {
  clock: Clock;
  /** The agent's view; throws while the agent is starting. */
  view: () => WarmUpView;
  sink: WarmUpSink;
  intervalMs?: number;
}

export class WarmUpReporter {
  private reported = false;

  constructor(private readonly deps: WarmUpReporterDeps) {}

  get done(): boolean {
    return this.reported;
  }

  /** Looks now; reports (once) when the warm-up is over. */
  check(): boolean {
    if (this.reported) return true;
    let view: WarmUpView;
    try {
      view = this.deps.view();
    } catch {
      return false;
    }
    if (!warmUpDone(view)) return false;
    this.reported = true;
    this.deps.sink.done();
    return true;
  }

  /** Checks every interval until the warm-up is reported or `signal` aborts. */
  async run(signal: AbortSignal): Promise<void> {
    if (this.check()) return;
    const reported = new AbortController();
    const until = AbortSignal.any([signal, reported.signal]);
    await repeatEvery(this.deps.clock, this.deps.intervalMs ?? WARM_UP_CHECK_MS, until, () => {
      if (this.check()) reported.abort();
    });
  }
}
