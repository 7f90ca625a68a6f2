/**
 * The datastore's vocabulary: what an ENI, an assignment and an address state are, and the results
 * its operations return. Expected outcomes ("no free address", "unknown key") are values of these
 * discriminated unions, never exceptions.
 */
import type { Placement } from './placement.js';

/** An attached ENI as the datastore knows it (no AWS SDK shape). */
export interface EniInfo {
  readonly id: string;
  readonly subnetId: string;
  /** The subnet's CIDR, e.g. "10.0.0.0/19": bounds the ENI's addresses and gives the gateway. */
  readonly subnetCidr: string;
  readonly deviceIndex: number;
  /** The instance's primary ENI (device index 0); custom networking keeps pods off it. */
  readonly primary: boolean;
  /** A named address pool this ENI serves; pods that ask for no pool never draw from a pooled ENI. */
  readonly pool?: string;
}

/** CNI identifies an attachment by container id + interface name; that pair is the assignment key. */
export interface AssignmentKey {
  readonly containerId: string;
  readonly ifName: string;
}

export interface PodRef {
  readonly uid: string;
  readonly namespace: string;
  readonly name: string;
}

/**
 * Who the address really belongs to when that outlives the pod, e.g. a KubeVirt VirtualMachine:
 * the leak check releases by owner when the owner is deleted.
 */
export interface OwnerRef {
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export type AddressState =
  | { readonly type: 'available' }
  | {
      readonly type: 'assigned';
      readonly key: AssignmentKey;
      readonly pod: PodRef;
      readonly owner?: OwnerRef;
      /** The CNI network the attachment was added on: a CNI GC collects only its own network's. */
      readonly network?: string;
      readonly assignedAt: number;
    }
  /** Released; not assignable and not counted as free until `until` (IP_COOLDOWN_PERIOD). */
  | { readonly type: 'cooling'; readonly until: number };

/** One address with where it lives and what it is doing. */
export interface AddressRecord {
  readonly address: string;
  readonly eniId: string;
  readonly subnetId: string;
  readonly pool: string | undefined;
  /** The /28 it belongs to, or undefined for a secondary /32. */
  readonly prefix: string | undefined;
  readonly state: AddressState;
}

export interface Assignment {
  readonly key: AssignmentKey;
  readonly pod: PodRef;
  readonly owner?: OwnerRef;
  readonly network?: string;
  readonly assignedAt: number;
  readonly address: string;
  readonly eniId: string;
  readonly subnetId: string;
}

/**
 * A placement (subnetId: only ENIs in this subnet, so a pod pinned to a subnet never gets another
 * subnet's address; pool: only ENIs of this pool, without it only ENIs that belong to no pool).
 */
export interface AssignConstraints extends Placement {
  /** Custom networking: the primary ENI carries no pod addresses. */
  readonly excludePrimaryEni?: boolean;
}

export interface AssignRequest {
  readonly key: AssignmentKey;
  readonly pod: PodRef;
  readonly owner?: OwnerRef;
  readonly network?: string;
  readonly constraints?: AssignConstraints;
}

export type AssignResult =
  | {
      readonly type: 'assigned';
      readonly address: string;
      readonly eniId: string;
      readonly subnetId: string;
      readonly subnetCidr: string;
      /** The subnet's prefix length: the CNI result's address is `${address}/${prefixLength}`. */
      readonly prefixLength: number;
      readonly gateway: string;
      /** True when the key already held this address (a retried ADD). */
      readonly existing: boolean;
    }
  | {
      readonly type: 'no-free-address';
      /** Addresses on ENIs that match the constraints, and how they are used. */
      readonly total: number;
      readonly assigned: number;
      readonly cooling: number;
      /** ENIs that match the constraints. */
      readonly eligibleEnis: number;
    }
  /** The key already holds an address for another pod: a container id reused across pods is a bug upstream. */
  | { readonly type: 'key-conflict'; readonly address: string; readonly heldBy: PodRef };

export type ReleaseResult =
  | {
      readonly type: 'released';
      readonly assignment: Assignment;
      /** Time the address becomes assignable again (== now when there is no cooldown). */
      readonly availableAt: number;
    }
  | { readonly type: 'not-found' };

/** Why an address handed to addIps/addPrefixes/reconcileEni was not taken. */
export type AddressRefusal =
  'already-present' | 'held-by-another-eni' | 'outside-subnet' | 'reserved-by-aws' | 'invalid';

export interface AddAddressesResult {
  readonly type: 'added' | 'unknown-eni';
  /** Addresses or prefixes now on the ENI that were not before. */
  readonly added: readonly string[];
  readonly refused: readonly {
    readonly entry: string;
    readonly reason: AddressRefusal;
    readonly detail?: string;
  }[];
}

/** Why an address or prefix was not removed. */
export type RemovalRefusal = 'assigned' | 'cooling' | 'not-on-eni';

export interface RemoveAddressesResult {
  readonly type: 'removed' | 'unknown-eni';
  readonly removed: readonly string[];
  readonly refused: readonly { readonly entry: string; readonly reason: RemovalRefusal }[];
}

export type AddEniResult = { readonly type: 'added' } | { readonly type: 'exists'; readonly same: boolean };

export type RemoveEniResult =
  | { readonly type: 'removed'; readonly lost: readonly Assignment[] }
  /** Refused: the ENI still has addresses in use. Pass `evenIfInUse` when EC2 says the ENI is gone. */
  | { readonly type: 'in-use'; readonly assigned: number; readonly cooling: number }
  | { readonly type: 'not-found' };

/** What EC2 reports for one ENI. */
export interface ObservedAddresses {
  readonly ips: readonly string[];
  readonly prefixes: readonly string[];
}

export interface ReconcileResult {
  readonly type: 'reconciled' | 'unknown-eni';
  /** IPs and prefixes EC2 has that the datastore did not. */
  readonly added: readonly string[];
  /** IPs and prefixes the datastore had that EC2 no longer has (free or cooling ones). */
  readonly removed: readonly string[];
  /**
   * Assignments whose address EC2 no longer has. They are dropped from the datastore (the address
   * cannot be handed out again) and returned so the agent can report them and act on the pod.
   */
  readonly lostWhileAssigned: readonly Assignment[];
  /** What EC2 reported that the datastore cannot take (e.g. the address is on another ENI here). */
  readonly refused: AddAddressesResult['refused'];
}

export interface Totals {
  readonly total: number;
  readonly assigned: number;
  readonly cooling: number;
  /** Assignable now: neither assigned nor cooling down. */
  readonly free: number;
}
