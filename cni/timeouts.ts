/**
 * Every deadline of the plugin and of the agent's socket endpoint, each with its reason. The
 * plugin never waits without a bound: a runtime that waits forever on a plugin blocks the pod
 * sandbox, and kubelet's own deadline (4 min for RunPodSandbox) is far too long to notice.
 */

/**
 * How long the plugin waits for the answer to an ADD by default. The agent bounds an ADD's wait
 * for an address (20 s by default, issue 5) and answers "try again later" (code 11) itself; the
 * extra 10 s covers a checkpoint flush and a busy node so that the agent, not the plugin, decides.
 * Overridable per network with `ipam.addTimeoutSeconds`.
 */
export const DEFAULT_ADD_TIMEOUT_MS = 30_000;
export const MAX_ADD_TIMEOUT_MS = 600_000;

/** DEL and CHECK only touch the agent's memory and its checkpoint. */
export const DEL_TIMEOUT_MS = 10_000;
export const CHECK_TIMEOUT_MS = 10_000;

/** GC may release hundreds of addresses (each one a datastore change and one checkpoint write). */
export const GC_TIMEOUT_MS = 60_000;

/** STATUS is a readiness probe the runtime calls often; a slow agent is as good as a down one. */
export const STATUS_TIMEOUT_MS = 5_000;

/** Runtimes close the plugin's stdin at once; a stdin that stays open is a caller bug, not a wait. */
export const STDIN_TIMEOUT_MS = 10_000;

/** Agent side: a client that connects and sends no complete request within this is dropped. */
export const REQUEST_READ_TIMEOUT_MS = 10_000;
