import { ADDRESSES_PER_PREFIX } from './address.js';
import type { EniUsage, PlanInput } from './plan-types.js';

/**
 * The planner's view of the node: derived counts per ENI and in total, in "units" that are
 * addresses in secondary-IP mode and /28 prefixes with prefix delegation.
 */
export interface EniView {
  id: string;
  primary: boolean;
  /** The planner may act on it: it carries pod addresses, is not busy and EC2 did not call it full. */
  actionable: boolean;
  /** Units on the ENI: secondary IPs, or prefixes with prefix delegation. */
  units: number;
  /** Free secondary slots (each takes one IP or one prefix). */
  room: number;
  /** Addresses on the ENI (IPs plus 16 per prefix). */
  addresses: number;
  assigned: number;
  cooldown: number;
  /** Addresses neither assigned nor cooling down. */
  free: number;
  /** Units counted as free for warm targets (with prefixes: whole free /28s, see below). */
  freeUnits: number;
  /** Units the planner may unassign without touching an assigned or cooling address. */
  releasableUnits: number;
  /** Nothing assigned, nothing cooling down: the ENI could be deleted. */
  idle: boolean;
  /** Holds nothing at all. */
  empty: boolean;
}

export interface PoolView {
  prefixes: boolean;
  /** Addresses per unit: 1, or 16 with prefix delegation. */
  unitSize: number;
  slotsPerEni: number;
  /** ENIs that carry pod addresses, in planning order (primary first, then by id). */
  enis: EniView[];
  /** Addresses for pods, in-flight ones included. */
  total: number;
  /** Free addresses, in-flight ones included (they will be free when EC2 shows them). */
  free: number;
  /** Free units, in-flight ones included. */
  freeUnits: number;
  /** ENIs that may still be created (limit, MAX_ENI, creations under way, AttachmentLimitExceeded). */
  creatableEnis: number;
  /** Units that may still be added before the node holds more addresses than max pods. */
  capacityUnits: number;
  /** Something requested from EC2 is not visible yet. */
  inFlight: boolean;
  /**
   * Units the work under way leaves room for once it lands: free slots on ENIs with a mutation in
   * flight and on ENIs being created, less the units those requests add.
   */
  roomAfterInFlight: number;
}

function viewEni(eni: EniUsage, input: PlanInput, slotsPerEni: number): EniView | undefined {
  const { limits } = input;
  if (eni.primary && limits.primaryEniExcluded === true) return undefined;
  const ips = Math.max(eni.ips, 0);
  const prefixes = Math.max(eni.prefixes, 0);
  const assigned = Math.max(eni.assigned, 0);
  const cooldown = Math.max(eni.cooldown, 0);
  const addresses = ips + prefixes * ADDRESSES_PER_PREFIX;
  const free = Math.max(addresses - assigned - cooldown, 0);
  const taken = assigned + cooldown;
  let units: number;
  let freeUnits: number;
  let releasableUnits: number;
  if (limits.prefixes) {
    units = prefixes;
    // Counts alone cannot say which /28s are wholly free. The datastore packs assignments into the
    // fullest prefix, so floor(free / 16) is the number of wholly free prefixes (what the VPC CNI
    // counts for WARM_PREFIX_TARGET). Releases use the worst case: the executor unassigns only
    // prefixes with no assigned or cooling address.
    freeUnits = Math.min(prefixes, Math.floor(free / ADDRESSES_PER_PREFIX));
    releasableUnits = Math.min(
      prefixes,
      Math.floor(Math.max(prefixes * ADDRESSES_PER_PREFIX - taken, 0) / ADDRESSES_PER_PREFIX),
    );
  } else {
    units = ips;
    freeUnits = free;
    // Leftover prefixes (from a switch of mode) may hold the assigned addresses; assume they don't.
    releasableUnits = Math.max(ips - taken, 0);
  }
  return {
    id: eni.id,
    primary: eni.primary,
    actionable: eni.busy !== true && eni.full !== true,
    units,
    room: Math.max(slotsPerEni - ips - prefixes, 0),
    addresses,
    assigned,
    cooldown,
    free,
    freeUnits,
    releasableUnits,
    idle: taken === 0,
    empty: addresses === 0 && taken === 0,
  };
}

/** Planning order: the primary first, then by id, so the same input always yields the same actions. */
function byPlanningOrder(a: EniView, b: EniView): number {
  if (a.primary !== b.primary) return a.primary ? -1 : 1;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

export function viewPool(input: PlanInput): PoolView {
  const { limits, targets } = input;
  const prefixes = limits.prefixes;
  const unitSize = prefixes ? ADDRESSES_PER_PREFIX : 1;
  const slotsPerEni = Math.max(limits.ipv4PerEni - 1, 0);
  const enis = input.enis
    .map((eni) => viewEni(eni, input, slotsPerEni))
    .filter((eni): eni is EniView => eni !== undefined)
    .sort(byPlanningOrder);
  const inFlightUnits = Math.max(input.inFlight ?? 0, 0);
  const enisInFlight = Math.max(input.enisInFlight ?? 0, 0);
  const inFlightAddresses = inFlightUnits * unitSize;
  const total = enis.reduce((sum, eni) => sum + eni.addresses, 0) + inFlightAddresses;
  const free = enis.reduce((sum, eni) => sum + eni.free, 0) + inFlightAddresses;
  const freeUnits = enis.reduce((sum, eni) => sum + eni.freeUnits, 0) + inFlightUnits;
  const maxEnis = Math.min(limits.maxEnis, targets.maxEni ?? limits.maxEnis);
  // The limit counts every attached ENI, the primary included even when it carries no pods.
  const attached = input.enis.length + enisInFlight;
  const creatableEnis = input.eniLimitReached === true ? 0 : Math.max(maxEnis - attached, 0);
  const capacityUnits = Math.max(Math.ceil((limits.maxPods - total) / unitSize), 0);
  const busyIds = new Set(input.enis.filter((e) => e.busy === true && e.full !== true).map((e) => e.id));
  const busyRoom = enis.reduce((sum, eni) => sum + (busyIds.has(eni.id) ? eni.room : 0), 0);
  return {
    prefixes,
    unitSize,
    slotsPerEni,
    enis,
    total,
    free,
    freeUnits,
    creatableEnis,
    capacityUnits,
    inFlight: inFlightUnits > 0 || enisInFlight > 0,
    roomAfterInFlight: Math.max(busyRoom + enisInFlight * slotsPerEni - inFlightUnits, 0),
  };
}
