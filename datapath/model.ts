/**
 * The node datapath's vocabulary: what the agent wants the node's kernel to hold (links, route
 * tables, policy rules, one nftables table) as plain data, and the seam every implementation
 * (the kernel's, through iproute2 and nftables, and the fake for unit tests) offers the agent.
 * The numbers are the AWS VPC CNI's, so a node moved from aws-node looks the same under `ip rule`.
 */

/**
 * The pod's gateway, which `ptp` puts on the host side of every pod's veth: the subnet's fourth
 * address (base + 3), which AWS reserves "for future use" and never gives to any host, so neither
 * the VPC router (base + 1) nor its DNS (base + 2) ever becomes a local address of the node. The
 * AWS VPC CNI uses 169.254.1.1 with its own plugin; the reference `ptp` needs the gateway inside
 * the pod's prefix (docs/datapath.md, "Deliberate differences").
 */
export const POD_GATEWAY_OFFSET = 3;
/** `to <pod> lookup main`: traffic to a pod of this node never follows another pod's from-rule. */
export const PRIORITY_TO_POD = 512;
/** `fwmark 0x80/0x80 lookup main`: replies of connections that entered on the primary ENI leave by it. */
export const PRIORITY_CONNMARK = 1024;
/** `from <pod> [to <cidr>] lookup <device number + 1>`: a secondary ENI's pod leaves by its own ENI. */
export const PRIORITY_FROM_POD = 1536;
/** The rule priorities the agent owns: any other rule at these priorities is stale and removed. */
export const OWNED_RULE_PRIORITIES: readonly number[] = [
  PRIORITY_TO_POD,
  PRIORITY_CONNMARK,
  PRIORITY_FROM_POD,
];
/** The connection mark of connections that entered on the primary ENI (the VPC CNI's default). */
export const CONNMARK = 0x80;
/** An ENI with device number N routes by table N + 1 (device number 0, the primary, uses main). */
export const FIRST_ENI_TABLE = 2;
/** Tables FIRST_ENI_TABLE..LAST_ENI_TABLE belong to the agent: routes there that it does not want are removed. */
export const LAST_ENI_TABLE = 128;
/** The nftables table the agent owns (family ip) and replaces as a whole. */
export const NAT_TABLE = 'eni-ipam';
/** Loose reverse-path filtering, set on the primary interface (NodePort replies, see docs/datapath.md). */
export const RP_FILTER_LOOSE = 2;

export type RandomizeSnat = 'none' | 'hashrandom' | 'prng';

/** What the agent knows about one attached ENI (from EC2 / instance metadata). */
export interface EniFacts {
  readonly eniId: string;
  readonly mac: string;
  /** The attachment's device number (device index on network card 0). */
  readonly deviceNumber: number;
  readonly primary: boolean;
  /** The ENI's own primary private address. */
  readonly primaryIp: string;
  readonly subnetCidr: string;
}

/** A pod address and the ENI that holds it. */
export interface PodFacts {
  readonly address: string;
  readonly eniId: string;
}

export interface SnatSettings {
  /** AWS_VPC_K8S_CNI_EXTERNALSNAT: no SNAT on the node, every pod leaves by its own ENI. */
  readonly external: boolean;
  /** AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: destinations outside the VPC that are reached unSNATed. */
  readonly excludeCidrs: readonly string[];
  readonly randomize: RandomizeSnat;
}

/** Everything the desired state is computed from: plain data, no I/O. */
export interface NodeFacts {
  readonly enis: readonly EniFacts[];
  readonly pods: readonly PodFacts[];
  readonly vpcCidrs: readonly string[];
  readonly snat: SnatSettings;
  /** AWS_VPC_ENI_MTU. */
  readonly mtu: number;
}

/** One ENI's link: found by MAC, up, with this MTU and these addresses (CIDR notation). */
export interface LinkSpec {
  readonly mac: string;
  readonly mtu: number;
  readonly primary: boolean;
  /** Addresses the agent puts on the link (a secondary ENI's primary address as /32); none on the primary. */
  readonly addresses: readonly string[];
}

export interface RouteSpec {
  readonly table: number;
  /** "default" or a CIDR. */
  readonly dst: string;
  /** The link, by MAC. */
  readonly mac: string;
  readonly gateway?: string;
}

export interface RuleSpec {
  readonly priority: number;
  /** CIDR; undefined: from all. */
  readonly src?: string;
  /** CIDR; undefined: to all. */
  readonly dst?: string;
  readonly fwmark?: { readonly value: number; readonly mask: number };
  /** A table number, or "main". */
  readonly table: number | 'main';
}

/** The nftables table's content, before interface names are known. */
export interface NatPlan {
  /** The primary ENI's MAC: its interface is where NodePort connections enter and SNAT leaves. */
  readonly primaryMac: string;
  readonly primaryIp: string;
  /** SNAT non-VPC traffic to primaryIp (false with external SNAT). */
  readonly snat: boolean;
  /** Destinations never SNATed: the VPC's CIDRs and AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS. */
  readonly noSnatCidrs: readonly string[];
  readonly randomize: RandomizeSnat;
  readonly connmark: number;
}

export interface DesiredState {
  readonly links: readonly LinkSpec[];
  readonly routes: readonly RouteSpec[];
  readonly rules: readonly RuleSpec[];
  readonly nat: NatPlan;
}

/** What one reconcile did, for logs and metrics. */
export interface ReconcileReport {
  /** Changes written (batch lines, sysctls, the nftables table counted as one). */
  readonly changes: number;
  /** Things that could not be done now, e.g. an ENI whose link has not appeared yet. */
  readonly problems: readonly string[];
  /** External processes started (ip, nft). */
  readonly processes: number;
}

/**
 * The kernel seam. Every method is idempotent; each batches its work into one `ip -batch` and at
 * most one `nft -f`, whatever the number of pods.
 */
export interface Datapath {
  /** Brings an ENI's link up (by MAC) with its MTU and addresses, and fills its route table. */
  setupEni(link: LinkSpec, routes: readonly RouteSpec[]): Promise<ReconcileReport>;
  /** Removes a table (its routes) and every owned rule that points at it. */
  removeEni(table: number): Promise<ReconcileReport>;
  /** Installs the rules of these pods, removing any owned rule of the same addresses that differs. */
  addPodRules(
    pods: readonly { readonly address: string; readonly rules: readonly RuleSpec[] }[],
  ): Promise<ReconcileReport>;
  /** Removes every owned rule that names one of these addresses. */
  removePodRules(addresses: readonly string[]): Promise<ReconcileReport>;
  /** Replaces the agent's nftables table atomically (nothing is written when it already matches). */
  syncNat(nat: NatPlan): Promise<ReconcileReport>;
  /** Makes links, tables, rules, sysctls and the nftables table match: adds first, then removes what is stale. */
  reconcile(desired: DesiredState): Promise<ReconcileReport>;
}

/** A table of the agent's, or undefined for the primary ENI (main table). */
export function tableOf(deviceNumber: number): number | undefined {
  return deviceNumber === 0 ? undefined : deviceNumber + 1;
}

/** Rules compare by what they match and where they send. */
export function ruleKey(rule: RuleSpec): string {
  const mark = rule.fwmark ? `${rule.fwmark.value}/${rule.fwmark.mask}` : '';
  return `${rule.priority}|${rule.src ?? 'all'}|${rule.dst ?? 'all'}|${mark}|${rule.table}`;
}

export function routeKey(route: RouteSpec): string {
  return `${route.table}|${route.dst}|${route.mac.toLowerCase()}|${route.gateway ?? ''}`;
}

export function mergeReports(reports: readonly ReconcileReport[]): ReconcileReport {
  return {
    changes: reports.reduce((n, r) => n + r.changes, 0),
    problems: reports.flatMap((r) => r.problems),
    processes: reports.reduce((n, r) => n + r.processes, 0),
  };
}
