import type { ActionHandler } from './actions/action.js';
import { ACTIONS } from './actions/index.js';
import { latencyOf } from './config.js';
import { Ec2WireError } from './errors.js';
import { FaultInjector } from './faults.js';
import { QueryParams } from './query-protocol.js';
import type { SimState } from './state.js';
import { Ec2StatsRecorder } from './stats.js';
import { bucketFor, TokenBuckets } from './throttle.js';
import { errorXml, responseXml } from './xml.js';

export type EndpointOutcome =
  | { kind: 'response'; httpStatus: number; body: string; requestId: string }
  /** No response: the transport hangs up (HTTP) or fails with a TimeoutError (in-process). */
  | { kind: 'timeout'; requestId: string };

/**
 * The EC2 Query API over one simulated account, shared by both transports: the request body in,
 * the XML (or a timeout) out. Order per request: throttling (an immediate 503), then fault
 * injection, then the action's latency on the injected clock, then the action itself, applied
 * atomically at the end of its latency (so concurrent calls take effect in completion order).
 */
export class Ec2Endpoint {
  readonly stats = new Ec2StatsRecorder();
  private readonly buckets: TokenBuckets;
  private readonly faults: FaultInjector;
  private requests = 0;

  constructor(private readonly state: SimState) {
    this.buckets = new TokenBuckets(state.clock);
    this.faults = new FaultInjector(state.config.seed, state.config.faults);
  }

  async handle(body: string, signal?: AbortSignal): Promise<EndpointOutcome> {
    const requestId = this.nextRequestId();
    const error = (e: Ec2WireError): EndpointOutcome => {
      if (e.code === 'RequestLimitExceeded') this.stats.throttled();
      else this.stats.error(e.code);
      return {
        kind: 'response',
        httpStatus: e.httpStatus,
        body: errorXml(e.code, e.message, requestId),
        requestId,
      };
    };
    const params = new QueryParams(body);
    const action = params.action;
    if (action === undefined)
      return error(new Ec2WireError('MissingAction', 'The request must contain the parameter Action'));
    this.stats.call(action);
    const run = ACTIONS[action];
    if (!run)
      return error(
        new Ec2WireError('InvalidAction', `The action ${action} is not valid for this web service.`),
      );
    const config = this.state.config;
    if (config.throttling === 'aws') {
      const { key, spec } = bucketFor(action, params);
      if (!this.buckets.tryTake(key, spec))
        return error(new Ec2WireError('RequestLimitExceeded', 'Request limit exceeded.', 503));
    }
    const fault = this.faults.decide();
    const latency = latencyOf(config, action);
    if (fault.kind === 'timeout') {
      this.stats.timeout();
      if (fault.applied) {
        await this.state.clock.sleep(latency, signal);
        this.apply(action, params, requestId, run);
        await this.state.clock.sleep(Math.max(0, config.faults.timeoutMs - latency), signal);
      } else {
        await this.state.clock.sleep(config.faults.timeoutMs, signal);
      }
      return { kind: 'timeout', requestId };
    }
    await this.state.clock.sleep(latency, signal);
    if (fault.kind === 'server-error') {
      return error(new Ec2WireError(fault.code, 'An internal error has occurred', fault.httpStatus));
    }
    const outcome = this.apply(action, params, requestId, run);
    return outcome instanceof Ec2WireError ? error(outcome) : outcome;
  }

  private apply(
    action: string,
    params: QueryParams,
    requestId: string,
    run: ActionHandler,
  ): EndpointOutcome | Ec2WireError {
    try {
      const body = run({ state: this.state, params });
      return { kind: 'response', httpStatus: 200, body: responseXml(action, requestId, body), requestId };
    } catch (e) {
      if (e instanceof Ec2WireError) return e;
      // A simulator bug must not look like a retryable EC2 fault: fail loudly.
      throw e;
    }
  }

  private nextRequestId(): string {
    this.requests++;
    const hex = this.requests.toString(16).padStart(12, '0');
    return `00000000-0000-4000-8000-${hex}`;
  }
}
