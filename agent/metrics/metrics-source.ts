/**
 * What the metrics need from the agent, as plain numbers. The agent implements `MetricsSource`
 * over its datastore; the registry calls `snapshot()` once per scrape (and the CloudWatch publisher
 * once per interval), so every gauge of one scrape comes from the same instant.
 */
import { ADDRESSES_PER_PREFIX } from '../../ipam/address.js';
export interface MetricsSource {
  snapshot(): MetricsSnapshot;
}

export interface MetricsSnapshot {
  /** ENIs this node may use (instance limit after MAX_ENI): awscni_eni_max. */
  maxEnis: number;
  /** Pod addresses the instance can hold at most with its ENI limits: awscni_ip_max. */
  maxIps: number;
  /** Max pods for the node (the kubelet's --max-pods as computed by eni-ipam). */
  maxPods: number;
  enis: readonly EniMetrics[];
  /** CNI ADDs waiting for an address right now. */
  waitingAdds: number;
  /**
   * Units (addresses, or /28 prefixes) the warm target is short by, and whether the pool cannot
   * grow now (ENI limit, max pods, subnet full): how a full node is reported, since it stays Ready.
   */
  warmTarget?: { short: number; blocked: boolean };
  /** ENABLE_PREFIX_DELEGATION is on but the instance type has no prefixes (secondary IPs used). */
  prefixDelegationFallback?: boolean;
  /** Candidate subnets with the free addresses EC2 last reported for each. */
  subnets: readonly SubnetMetrics[];
}

export interface EniMetrics {
  eniId: string;
  /** Secondary /32 addresses on the ENI (the ENI's own primary address excluded). */
  ips: number;
  /** Delegated /28 prefixes on the ENI; each holds 16 pod addresses. */
  prefixes: number;
  /** Addresses assigned to pods (or kept for a stopped VM). */
  assigned: number;
  /** Addresses released less than IP_COOLDOWN_PERIOD ago: neither free nor assignable. */
  cooling: number;
  /**
   * Assigned addresses per secondary /32 or /28 prefix, for awscni_assigned_ip_per_cidr. Optional:
   * on a large node in secondary-IP mode this is one series per address.
   */
  cidrs?: readonly { cidr: string; assigned: number }[];
}

export interface SubnetMetrics {
  subnetId: string;
  /** AvailableIpAddressCount as last described. */
  free: number;
}

/** Pod addresses an ENI holds: its secondary /32s plus 16 per /28 prefix. */
export function eniAddresses(eni: Pick<EniMetrics, 'ips' | 'prefixes'>): number {
  return eni.ips + eni.prefixes * ADDRESSES_PER_PREFIX;
}

/** Node-wide totals derived from a snapshot; shared by Prometheus and CloudWatch. */
export interface NodeTotals {
  enis: number;
  addresses: number;
  prefixes: number;
  assigned: number;
  cooling: number;
  /** Assignable now: neither assigned nor cooling (never negative). */
  free: number;
}

export function nodeTotals(snapshot: MetricsSnapshot): NodeTotals {
  let addresses = 0;
  let prefixes = 0;
  let assigned = 0;
  let cooling = 0;
  for (const eni of snapshot.enis) {
    addresses += eniAddresses(eni);
    prefixes += eni.prefixes;
    assigned += eni.assigned;
    cooling += eni.cooling;
  }
  return {
    enis: snapshot.enis.length,
    addresses,
    prefixes,
    assigned,
    cooling,
    free: Math.max(0, addresses - assigned - cooling),
  };
}
