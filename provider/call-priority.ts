import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * Why an EC2 call is made: `demand` serves CNI ADDs waiting now (and start-up and resync, which
 * gate them); `warm` refills a warm pool nobody waits for yet, or releases a surplus. The limiter serves demand first, so a pod never
 * waits behind a warm-up, on its node or (with the shared budget) on any other.
 */
export type CallPriority = 'demand' | 'warm';
/**
 * A priority, or how to find it: a call queued as warm-up becomes demand when pods start waiting
 * for it (the limiter asks again while it waits).
 */
export type PrioritySource = CallPriority | (() => CallPriority);

const current = new AsyncLocalStorage<PrioritySource>();

/**
 * Runs `work` with every EC2 call it makes (retries, visibility polls and compensation included)
 * at `priority`. The priority follows the work across awaits, so the provider's signatures do not
 * carry it.
 */
export function withCallPriority<T>(priority: PrioritySource, work: () => T): T {
  return current.run(priority, work);
}

/** The priority of the work now running; demand unless the caller said otherwise. */
export function currentCallPriority(): PrioritySource {
  return current.getStore() ?? 'demand';
}

export function resolvePriority(priority: PrioritySource): CallPriority {
  return typeof priority === 'function' ? priority() : priority;
}
