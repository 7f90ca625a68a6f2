import type { PlanLimits } from '../../ipam/plan-types.js';
import type { CniRequestSample } from '../metrics/cni-request-timing.js';

/**
 * What the introspection endpoints show, read from the agent on every request. Every method is
 * synchronous and returns plain JSON-able data: the agent answers from its datastore, never by
 * calling EC2. The shapes below are the JSON of the endpoints (docs/observability.md).
 */
export interface IntrospectionSource {
  enis(): EniView[];
  pods(): PodView[];
  subnets(): SubnetView[];
  /** The parsed configuration (no secrets: the agent holds none in its config). */
  config(): unknown;
  /** Planner inputs that are not per-ENI, for /v1/state. */
  planContext(): PlanContext;
  readiness(): ReadinessStatus;
  /** Whether the agent can serve CNI calls (socket, state directory, checkpoint writes). */
  liveness?(): { alive: boolean; reason: string };
  /** The most recent CNI requests with the time the agent took over each, oldest first. */
  cniRequests?(): CniRequestSample[];
}

export interface EniView {
  eniId: string;
  deviceIndex: number;
  primary: boolean;
  subnetId: string;
  /** The ENI's own primary address (never handed to a pod). */
  primaryIp: string;
  /** Secondary /32 addresses. */
  secondaryIps: string[];
  /** Delegated /28 prefixes as CIDRs. */
  prefixes: string[];
  /** Addresses assigned to pods (or kept for a stopped VM). */
  assigned: number;
  /** Addresses cooling down after release. */
  cooling: number;
  /** A mutation on this ENI is under way. */
  busy?: boolean;
}

export interface PodView {
  namespace: string;
  name: string;
  uid: string;
  containerId: string;
  ifName: string;
  ip: string;
  eniId: string;
  /** The owner that keeps the address when the pod is gone, e.g. "VirtualMachine ns/vm". */
  owner?: string;
  /** When the address was assigned, ms since the epoch. */
  assignedAt?: number;
}

export interface SubnetView {
  subnetId: string;
  availabilityZone: string;
  cidr: string;
  /** AvailableIpAddressCount as last described. */
  free: number;
  /** Addresses requested from this subnet and not yet visible. */
  inFlight?: number;
  /** The subnet answered "full" and is skipped until then (ms since the epoch). */
  skippedUntil?: number;
}

export interface PlanContext {
  limits: PlanLimits;
  /**
   * The warm-target variables as the operator set them (WARM_ENI_TARGET, WARM_IP_TARGET,
   * MINIMUM_IP_TARGET, WARM_PREFIX_TARGET, MAX_ENI, ENABLE_PREFIX_DELEGATION), in the string form
   * `eni-ipam plan` parses.
   */
  env: Record<string, string>;
  /** CNI ADDs waiting for an address. */
  pending: number;
}

export interface ReadinessStatus {
  /** The start-up reconcile with EC2, the checkpoint and the pods has finished. */
  firstReconcileDone: boolean;
  /** Free addresses are at or above the warm target now. */
  warmTargetMet: boolean;
  /** Addresses or ENIs are on their way to meet it (an EC2 call in flight or planned). */
  warmTargetInProgress: boolean;
  /** Why the target is neither met nor being met (subnet full, ENI limit, EC2 errors), if known. */
  blockedReason?: string;
  /** Whether the agent can serve CNI calls now (liveness); unknown counts as serving. */
  serving?: { alive: boolean; reason: string };
}
