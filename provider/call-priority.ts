import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Why an EC2 call is made: `demand` serves CNI ADDs waiting now (and start-up and resync, which
 * gate them); `warm` refills a warm pool nobody waits for yet, or releases a surplus. The limiter serves demand first, so a pod never
 * waits behind a warm-up, on its node or (with the shared budget) on any other.
 */
export type CallPriority = 'demand' | 'warm';

const current = new AsyncLocalStorage<CallPriority>();

/**
 * Runs `work` with every EC2 call it makes (retries, visibility polls and compensation included)
 * at `priority`. The priority follows the work across awaits, so the provider's signatures do not
 * carry it.
 */
export function withCallPriority<T>(priority: CallPriority, work: () => T): T {
  return current.run(priority, work);
}

/** The priority of the work now running; demand unless the caller said warm. */
export function currentCallPriority(): CallPriority {
  return current.getStore() ?? 'demand';
}
