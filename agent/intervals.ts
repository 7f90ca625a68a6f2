/**
 * Every interval, TTL and grace period of the agent, each with the reason for its value.
 * Values an operator may change are defaults for a variable in agent/config-table.ts; the rest are
 * fixed here so that no timing hides as a literal in the code that uses it.
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;

// ---- Defaults of configurable timings (see docs/configuration.md) ----

/** IP_COOLDOWN_PERIOD: the AWS VPC CNI's default; lets conntrack and peers forget a released address. */
export const DEFAULT_IP_COOLDOWN_SECONDS = 30;

/**
 * ENI_IPAM_ADD_WAIT_SECONDS: how long a CNI ADD waits for an address on its way. An ENI create +
 * attach + assign takes 5-15 s when EC2 is healthy; kubelet retries a failed sandbox anyway, so
 * beyond 20 s a clear "try again later" is worth more than a longer wait.
 */
export const DEFAULT_ADD_WAIT_SECONDS = 20;

/**
 * ENI_IPAM_EC2_RESYNC_SECONDS: periodic comparison with what EC2 shows. Events drive the loop; the
 * resync only catches changes made behind our back (console, other tools), so a minute is enough
 * and costs one filtered Describe per node per minute.
 */
export const DEFAULT_EC2_RESYNC_SECONDS = 60;

/**
 * ENI_IPAM_POD_GONE_GRACE_SECONDS: an address whose pod is absent from the pod watch is released
 * only after this long, so a pod the watch has not shown yet (created just now) keeps its address.
 */
export const DEFAULT_POD_GONE_GRACE_SECONDS = 60;

/**
 * ENI_IPAM_LEAKED_ENI_GRACE_SECONDS: an ENI of ours left `available` is deleted only after this
 * long, because a create+attach in flight on this or a restarting agent passes through `available`.
 */
export const DEFAULT_LEAKED_ENI_GRACE_SECONDS = 5 * 60;

/**
 * ENI_IPAM_SUBNET_FULL_SKIP_SECONDS: a subnet that answered InsufficientFreeAddressesInSubnet or
 * InsufficientCidrBlocks is skipped for this long; addresses in a busy subnet come back at the pace
 * of other nodes' cooldowns. Long enough that planning does not hammer a full subnet with
 * CreateNetworkInterface (and spend the account's mutation budget), short enough that addresses
 * other nodes release are used again soon; the subnet cache is refreshed on a similar period.
 */
export const DEFAULT_SUBNET_FULL_SKIP_SECONDS = 180;

// ---- Fixed timings ----

/**
 * The API server ends each watch after this many seconds and ListWatch resumes from its
 * resourceVersion; a healthy but quiet watch therefore shows life at least this often.
 */
export const WATCH_SERVER_TIMEOUT_SECONDS = 5 * 60;

/**
 * No event, bookmark, reconnect or list for this long means the watch stalled silently (a half-dead
 * TCP connection shows no error): restart it. Twice the server timeout so a healthy quiet watch,
 * which reconnects at least every WATCH_SERVER_TIMEOUT_SECONDS, is never taken for a stalled one.
 */
export const WATCH_STALL_MS = 2 * WATCH_SERVER_TIMEOUT_SECONDS * SECOND;

/** First delay before restarting a watch that stopped with an error. */
export const WATCH_RESTART_BACKOFF_BASE_MS = 1 * SECOND;

/**
 * Back-off cap: an API server that is down for long is retried twice a minute per node, which
 * a cluster of thousands of nodes can afford when it comes back.
 */
export const WATCH_RESTART_BACKOFF_MAX_MS = 30 * SECOND;

/**
 * How often the agent asks again whether the KubeVirt API exists when it did not: installing
 * KubeVirt on a running cluster must not need an agent restart, and the group list is cheap.
 */
export const VM_API_DISCOVERY_INTERVAL_MS = 10 * MINUTE;

/**
 * After an EC2 action fails, planning is retried after this delay, doubling per consecutive failure
 * up to the cap. Immediate replanning after a throttle would spend the account's bucket faster; the
 * cap stays below the ADD wait bound (20 s) so that every waiting ADD sees at least one retry.
 */
export const RETRY_AFTER_FAILURE_MIN_MS = 1 * SECOND;
export const RETRY_AFTER_FAILURE_MAX_MS = 8 * SECOND;

/**
 * How often assignments are compared with the pods (and VMs) that exist. In-memory work only; a
 * short period means a leaked address is freed within the grace period plus this.
 */
export const LEAK_SCAN_INTERVAL_MS = 5 * SECOND;

/**
 * How often EC2 is asked for ENIs this project created that are attached to nothing. Every node
 * scans (an ENI of a dead node is anyone's to collect), so this is a cluster's steady Describe
 * load: ten minutes keeps an idle node at one Describe per five minutes with the subnet refresh.
 */
export const LEAKED_ENI_SCAN_INTERVAL_MS = 10 * MINUTE;

/**
 * The pool releases surplus addresses only after it has been over its target this long. Longer than
 * IP_COOLDOWN_PERIOD's default (30 s): under steady churn the surplus a cooldown creates is gone
 * again before this, so churn costs no assign/unassign pair per pod (the VPC CNI waits 30 s).
 */
export const SHRINK_AFTER_MS = 60 * SECOND;

/**
 * How often the agent looks whether its pool is short and cannot grow, for the node's Kubernetes
 * events. In-memory work only (one plan over the datastore); no API call unless the answer changes.
 */
export const SHORTAGE_CHECK_INTERVAL_MS = 10 * SECOND;

/**
 * A shortage is reported once it has lasted this long, and reported over once it has been gone this
 * long. Longer than the retry cap after a failed EC2 call (8 s), so a throttle that the next retry
 * overcomes, or a retry briefly in flight, raises no Warning and no "resolved" pair; it also bounds
 * how often a flapping shortage can write an event.
 */
export const SHORTAGE_EVENT_HOLD_MS = 30 * SECOND;

/**
 * While the same shortage lasts, its event is repeated (its count raised on the same Event object)
 * at most this often: `kubectl describe node` keeps showing it (events expire after an hour by
 * default) without a write per check.
 */
export const SHORTAGE_EVENT_REPEAT_MS = 5 * MINUTE;
