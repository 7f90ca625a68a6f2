import type { SimFaults } from './config.js';
import { SeededRandom } from './random.js';

const STREAM_FAULTS = 2;

export type FaultDecision =
  | { kind: 'none' }
  | { kind: 'server-error'; code: 'InternalError' | 'Unavailable'; httpStatus: 500 | 503 }
  | { kind: 'timeout'; applied: boolean };

/**
 * Seeded fault injection. Every request draws the same number of values whatever the outcome, so
 * the n-th request of a run gets the same fault for the same seed regardless of rates or of what
 * earlier requests did.
 */
export class FaultInjector {
  private readonly random: SeededRandom;

  constructor(
    seed: number,
    private readonly faults: SimFaults,
  ) {
    this.random = new SeededRandom(seed, STREAM_FAULTS);
  }

  decide(): FaultDecision {
    const serverError = this.random.next();
    const which = this.random.next();
    const timeout = this.random.next();
    const applied = this.random.next();
    if (serverError < this.faults.serverErrorRate) {
      return which < 0.5
        ? { kind: 'server-error', code: 'InternalError', httpStatus: 500 }
        : { kind: 'server-error', code: 'Unavailable', httpStatus: 503 };
    }
    if (timeout < this.faults.timeoutRate)
      return { kind: 'timeout', applied: applied < this.faults.timeoutAppliedRate };
    return { kind: 'none' };
  }
}
