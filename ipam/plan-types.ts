/**
 * The planner's contract: plain data in, a list of actions out. The agent builds a PlanInput from
 * its datastore and executes the actions through the provider; `eni-ipam plan` builds one from JSON.
 */

/** The warm-pool settings, with the AWS VPC CNI's names and meaning (see README "Warm targets"). */
export interface WarmTargets {
  /** WARM_ENI_TARGET: ENIs' worth of free addresses to keep (default 1). Ignored when an IP target is set. */
  warmEniTarget: number;
  /** WARM_IP_TARGET: free addresses to keep; undefined or 0 when unset. */
  warmIpTarget: number | undefined;
  /** MINIMUM_IP_TARGET: total addresses to hold at least; undefined or 0 when unset. */
  minimumIpTarget: number | undefined;
  /** WARM_PREFIX_TARGET: free /28 prefixes to keep (prefix delegation only). */
  warmPrefixTarget: number | undefined;
  /** MAX_ENI: lowers the instance's ENI limit. */
  maxEni: number | undefined;
  /** ENABLE_PREFIX_DELEGATION. */
  prefixDelegation: boolean;
}

export interface PlanLimits {
  /** ENIs this node may use, after MAX_ENI. */
  maxEnis: number;
  /** IPv4 addresses per ENI, the primary included (so ipv4PerEni - 1 secondary slots). */
  ipv4PerEni: number;
  /** Addresses the node may hand out at most (max pods). */
  maxPods: number;
  /** Prefix delegation in force: each secondary slot holds a /28. */
  prefixes: boolean;
  /** Custom networking: the primary ENI carries no pod addresses. */
  primaryEniExcluded?: boolean;
}

/** One ENI as the planner sees it. Counts are of distinct addresses. */
export interface EniUsage {
  id: string;
  primary: boolean;
  /** Secondary /32 addresses on the ENI. */
  ips: number;
  /** /28 prefixes on the ENI. */
  prefixes: number;
  /** Addresses assigned to pods. */
  assigned: number;
  /** Addresses cooling down after release: neither free nor assignable. */
  cooldown: number;
  /** A mutation on this ENI is under way: plan nothing more on it until EC2 shows the change. */
  busy?: boolean;
  /** The ENI may take no more addresses (EC2 answered PrivateIpAddressLimitExceeded). */
  full?: boolean;
}

export interface PlanInput {
  limits: PlanLimits;
  targets: WarmTargets;
  enis: EniUsage[];
  /** CNI ADDs waiting for an address now. */
  pending: number;
  /** Addresses (or prefixes) already requested from EC2 and not yet visible, across all ENIs. */
  inFlight?: number;
  /** ENI creations under way. */
  enisInFlight?: number;
  /** The instance answered AttachmentLimitExceeded: plan no new ENI. */
  eniLimitReached?: boolean;
}

export type PlanAction =
  | { type: 'assignIps'; eni: string; count: number }
  | { type: 'assignPrefixes'; eni: string; count: number }
  /** `count` is secondary IPs, or prefixes when prefix delegation is on. */
  | { type: 'createEni'; count: number }
  | { type: 'unassignIps'; eni: string; count: number }
  | { type: 'unassignPrefixes'; eni: string; count: number }
  | { type: 'deleteEni'; eni: string };

export interface PlanDecision {
  poolTooLow: boolean;
  poolTooHigh: boolean;
  /** Shortfall in addresses, or in prefixes when prefix delegation is on. */
  short: number;
  /** Excess in addresses, or in prefixes when prefix delegation is on. */
  over: number;
  actions: PlanAction[];
}
