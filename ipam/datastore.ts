import { parseCidr, sortByAddress, subnetGateway } from './address.js';
import {
  AVAILABLE,
  canonicalSet,
  checkIp,
  checkPrefix,
  newSlot,
  toAssignment,
  tryCanonicalIp,
  tryCanonicalPrefix,
  type EniEntry,
  type InUseCounts,
  type Refused,
  type Slot,
} from './datastore-slots.js';
import { pickAddress, type EniCandidate } from './datastore-pick.js';
import type {
  AddAddressesResult,
  AddEniResult,
  AddressRecord,
  AddressState,
  AssignmentKey,
  Assignment,
  AssignConstraints,
  AssignRequest,
  AssignResult,
  EniInfo,
  ObservedAddresses,
  PodRef,
  ReconcileResult,
  ReleaseResult,
  RemoveAddressesResult,
  RemoveEniResult,
  RemovalRefusal,
  Totals,
} from './datastore-types.js';
import type { EniUsage } from './plan-types.js';

export function keyString(key: AssignmentKey): string {
  // A NUL cannot appear in a container id or an interface name, so the pair maps to one string.
  return `${key.containerId}\u0000${key.ifName}`;
}

/**
 * The agent's single source of truth about this node's addresses: ENIs -> secondary /32s and /28
 * prefixes -> available | assigned | cooling. Pure and synchronous: time is a parameter, and every
 * operation completes before another can start, so "pick then mark" can never hand one address to
 * two pods. Invariants: an address lives on at most one ENI; a key holds at most one address; an
 * address is assigned to at most one key.
 */
export class Datastore {
  private readonly eniById = new Map<string, EniEntry>();
  private readonly slots = new Map<string, Slot>();
  private readonly addressByKey = new Map<string, string>();
  /** The slots by address, kept until an address is added or removed (states change in place). */
  private sorted: readonly Slot[] | undefined;
  /**
   * Each ENI's slots, kept until an address is added or removed (states change in place): every
   * ADD reads every slot of its candidate ENIs, and building the lists took hundreds of lookups.
   */
  private readonly slotLists = new Map<string, readonly Slot[]>();
  /** Of the node's addresses; each ENI keeps its own (every state change goes through setState). */
  private readonly inUse: InUseCounts = { assigned: 0, cooling: 0 };
  /** The ENIs by device index, kept until an ENI comes or goes: the planner reads it on every event. */
  private sortedEniCache: readonly EniEntry[] | undefined;
  /**
   * The addresses whose state changed since markChanges(); undefined when none was made or an ENI or
   * an address came or went since (a list of state changes cannot say that).
   */
  private changed: Set<string> | undefined;

  // ---- ENIs ---------------------------------------------------------------------------------

  /** Adds an ENI with no addresses. Throws AddressFormatError when its subnet CIDR is malformed. */
  addEni(info: EniInfo): AddEniResult {
    const cidr = parseCidr(info.subnetCidr);
    const existing = this.eniById.get(info.id);
    if (existing) return { type: 'exists', same: sameEni(existing.info, { ...info, subnetCidr: cidr.text }) };
    const stored: EniInfo = Object.freeze({ ...info, subnetCidr: cidr.text });
    this.eniById.set(info.id, {
      info: stored,
      cidr,
      ips: new Set(),
      prefixes: new Map(),
      inUse: { assigned: 0, cooling: 0 },
    });
    this.sortedEniCache = undefined;
    this.changed = undefined;
    return { type: 'added' };
  }

  /**
   * Removes an ENI and its addresses. Refused while any address is assigned or cooling, unless
   * `evenIfInUse` (EC2 says the ENI is gone): then the assignments it held come back as `lost`.
   */
  removeEni(eniId: string, options: { evenIfInUse?: boolean } = {}): RemoveEniResult {
    const entry = this.eniById.get(eniId);
    if (!entry) return { type: 'not-found' };
    const { assigned, cooling } = entry.inUse;
    if ((assigned > 0 || cooling > 0) && options.evenIfInUse !== true)
      return { type: 'in-use', assigned, cooling };
    const lost = this.slotsOf(entry).flatMap((slot) => this.dropSlot(slot));
    this.eniById.delete(eniId);
    this.addressesChanged();
    this.sortedEniCache = undefined;
    return { type: 'removed', lost };
  }

  eni(eniId: string): EniInfo | undefined {
    return this.eniById.get(eniId)?.info;
  }

  /** ENIs by device index. */
  enis(): EniInfo[] {
    return this.sortedEntries().map((e) => e.info);
  }

  // ---- addresses on ENIs --------------------------------------------------------------------

  /** Adds secondary /32 addresses; each one refused is reported with its reason, never dropped silently. */
  addIps(eniId: string, ips: readonly string[]): AddAddressesResult {
    const entry = this.eniById.get(eniId);
    if (!entry) return { type: 'unknown-eni', added: [], refused: [] };
    const added: string[] = [];
    const refused: Refused[] = [];
    for (const raw of ips) {
      const checked = checkIp(entry, raw, this.slots);
      if (typeof checked !== 'string') {
        refused.push(checked);
        continue;
      }
      entry.ips.add(checked);
      this.slots.set(checked, newSlot(checked, eniId, undefined));
      this.addressesChanged();
      added.push(checked);
    }
    return { type: 'added', added, refused };
  }

  /** Adds delegated /28 prefixes, each expanding to its 16 addresses; a prefix is taken whole or refused. */
  addPrefixes(eniId: string, prefixes: readonly string[]): AddAddressesResult {
    const entry = this.eniById.get(eniId);
    if (!entry) return { type: 'unknown-eni', added: [], refused: [] };
    const added: string[] = [];
    const refused: Refused[] = [];
    for (const raw of prefixes) {
      const checked = checkPrefix(entry, raw, this.slots);
      if ('reason' in checked) {
        refused.push(checked);
        continue;
      }
      entry.prefixes.set(checked.prefix, checked.addresses);
      for (const address of checked.addresses)
        this.slots.set(address, newSlot(address, eniId, checked.prefix));
      this.addressesChanged();
      added.push(checked.prefix);
    }
    return { type: 'added', added, refused };
  }

  /**
   * Removes secondary /32s before the agent unassigns them in EC2 (and re-adds them if that call
   * fails): once removed, no ADD can pick them while the call is in flight. Assigned or cooling
   * addresses are refused.
   */
  removeIps(eniId: string, ips: readonly string[]): RemoveAddressesResult {
    const entry = this.eniById.get(eniId);
    if (!entry) return { type: 'unknown-eni', removed: [], refused: [] };
    const removed: string[] = [];
    const refused: { entry: string; reason: RemovalRefusal }[] = [];
    for (const raw of ips) {
      const ip = tryCanonicalIp(raw);
      const slot = ip === undefined || !entry.ips.has(ip) ? undefined : this.slots.get(ip);
      if (!slot || ip === undefined) {
        refused.push({ entry: raw, reason: 'not-on-eni' });
      } else if (slot.state.type !== 'available') {
        refused.push({ entry: raw, reason: slot.state.type });
      } else {
        entry.ips.delete(ip);
        this.slots.delete(ip);
        this.addressesChanged();
        removed.push(ip);
      }
    }
    return { type: 'removed', removed, refused };
  }

  /** Removes whole /28s; a prefix with any address assigned or cooling is refused. */
  removePrefixes(eniId: string, prefixes: readonly string[]): RemoveAddressesResult {
    const entry = this.eniById.get(eniId);
    if (!entry) return { type: 'unknown-eni', removed: [], refused: [] };
    const removed: string[] = [];
    const refused: { entry: string; reason: RemovalRefusal }[] = [];
    for (const raw of prefixes) {
      const prefix = tryCanonicalPrefix(raw);
      const addresses = prefix === undefined ? undefined : entry.prefixes.get(prefix);
      if (!addresses || prefix === undefined) {
        refused.push({ entry: raw, reason: 'not-on-eni' });
        continue;
      }
      const busy = addresses.map((a) => this.slots.get(a)?.state.type).find((t) => t !== 'available');
      if (busy === 'assigned' || busy === 'cooling') {
        refused.push({ entry: raw, reason: busy });
        continue;
      }
      entry.prefixes.delete(prefix);
      for (const address of addresses) this.slots.delete(address);
      this.addressesChanged();
      removed.push(prefix);
    }
    return { type: 'removed', removed, refused };
  }

  /**
   * Brings an ENI's addresses in line with what EC2 reports. Free and cooling addresses EC2 no
   * longer has are removed; assigned ones are dropped too but reported in `lostWhileAssigned`, so
   * the agent learns that a pod holds an address the node no longer owns.
   */
  reconcileEni(eniId: string, observed: ObservedAddresses): ReconcileResult {
    const entry = this.eniById.get(eniId);
    if (!entry) return { type: 'unknown-eni', added: [], removed: [], lostWhileAssigned: [], refused: [] };
    const refused: Refused[] = [];
    const observedIps = canonicalSet(observed.ips, tryCanonicalIp, refused);
    const observedPrefixes = canonicalSet(observed.prefixes, tryCanonicalPrefix, refused);
    const removed: string[] = [];
    const lost: Assignment[] = [];
    this.addressesChanged();
    for (const ip of [...entry.ips]) {
      if (observedIps.has(ip)) continue;
      const slot = this.slots.get(ip);
      entry.ips.delete(ip);
      if (slot) lost.push(...this.dropSlot(slot));
      removed.push(ip);
    }
    for (const [prefix, addresses] of [...entry.prefixes]) {
      if (observedPrefixes.has(prefix)) continue;
      entry.prefixes.delete(prefix);
      for (const address of addresses) {
        const slot = this.slots.get(address);
        if (slot) lost.push(...this.dropSlot(slot));
      }
      removed.push(prefix);
    }
    const newIps = [...observedIps].filter((ip) => !entry.ips.has(ip));
    const newPrefixes = [...observedPrefixes].filter((p) => !entry.prefixes.has(p));
    const ipResult = this.addIps(eniId, newIps);
    const prefixResult = this.addPrefixes(eniId, newPrefixes);
    return {
      type: 'reconciled',
      added: [...ipResult.added, ...prefixResult.added],
      removed,
      lostWhileAssigned: lost,
      refused: [...refused, ...ipResult.refused, ...prefixResult.refused],
    };
  }

  // ---- assignment ---------------------------------------------------------------------------

  /**
   * Hands an address to a pod. Idempotent per key: a retried ADD gets the same address. Picks
   * deterministically (see datastore-pick.ts): the ENI with the most addresses assigned, so others
   * can drain and be returned; within it the /28 most in use; then the lowest address.
   * Cooldowns that ended by `now` are expired first.
   */
  assign(request: AssignRequest, now: number): AssignResult {
    const existingAddress = this.addressByKey.get(keyString(request.key));
    if (existingAddress !== undefined) {
      const slot = this.requireSlot(existingAddress);
      if (slot.state.type !== 'assigned')
        throw new Error(`datastore corrupt: key maps to ${slot.state.type} ${slot.address}`);
      if (slot.state.pod.uid !== request.pod.uid) {
        return { type: 'key-conflict', address: slot.address, heldBy: slot.state.pod };
      }
      return this.assignedResult(slot, true);
    }
    this.expireCooldowns(now);
    const candidates = this.candidates(request.constraints ?? {});
    const picked = pickAddress(candidates);
    if (!picked) {
      const states = candidates.flatMap((c) => c.slots.map((s) => s.state.type));
      return {
        type: 'no-free-address',
        total: states.length,
        assigned: states.filter((t) => t === 'assigned').length,
        cooling: states.filter((t) => t === 'cooling').length,
        eligibleEnis: candidates.length,
      };
    }
    const slot = this.requireSlot(picked);
    this.setState(
      slot,
      Object.freeze({
        type: 'assigned',
        key: Object.freeze({ containerId: request.key.containerId, ifName: request.key.ifName }),
        pod: Object.freeze({ ...request.pod }),
        ...(request.owner ? { owner: Object.freeze({ ...request.owner }) } : {}),
        ...(request.network === undefined ? {} : { network: request.network }),
        assignedAt: now,
      }),
    );
    this.addressByKey.set(keyString(request.key), slot.address);
    return this.assignedResult(slot, false);
  }

  /**
   * Releases the key's address. Idempotent: an unknown key (already released, never assigned) is
   * `not-found`. With `cooldownMs` > 0 the address cools down until now + cooldownMs.
   */
  release(key: AssignmentKey, now: number, cooldownMs: number): ReleaseResult {
    const address = this.addressByKey.get(keyString(key));
    if (address === undefined) return { type: 'not-found' };
    const slot = this.requireSlot(address);
    const assignment = toAssignment(slot, this.eniOf(slot));
    if (!assignment) throw new Error(`datastore corrupt: key maps to ${slot.state.type} ${slot.address}`);
    this.addressByKey.delete(keyString(key));
    const availableAt = cooldownMs > 0 ? now + cooldownMs : now;
    this.setState(slot, cooldownMs > 0 ? Object.freeze({ type: 'cooling', until: availableAt }) : AVAILABLE);
    return { type: 'released', assignment, availableAt };
  }

  /**
   * Moves the address held by `from` to the attachment `to`, for its new pod: a KubeVirt VM keeps
   * its address across stop/start and live migration, where the VM's next pod (a new container id)
   * must receive the address the VM held, not a new one. `network` is the CNI network of the new
   * attachment (a CNI GC collects only its own network's). `no-free-address` when `from` holds
   * nothing; `key-conflict` when `to` already holds another address.
   */
  transfer(from: AssignmentKey, to: AssignmentKey, pod: PodRef, now: number, network?: string): AssignResult {
    const address = this.addressByKey.get(keyString(from));
    if (address === undefined) {
      return { type: 'no-free-address', total: 0, assigned: 0, cooling: 0, eligibleEnis: 0 };
    }
    const held = this.addressByKey.get(keyString(to));
    const slot = this.requireSlot(address);
    if (held !== undefined && held !== address) {
      const other = this.requireSlot(held);
      return {
        type: 'key-conflict',
        address: held,
        heldBy: other.state.type === 'assigned' ? other.state.pod : pod,
      };
    }
    if (slot.state.type !== 'assigned')
      throw new Error(`datastore corrupt: key maps to ${slot.state.type} ${address}`);
    this.addressByKey.delete(keyString(from));
    this.setState(
      slot,
      Object.freeze({
        type: 'assigned',
        key: Object.freeze({ containerId: to.containerId, ifName: to.ifName }),
        pod: Object.freeze({ ...pod }),
        ...(slot.state.owner ? { owner: slot.state.owner } : {}),
        ...(network === undefined ? {} : { network }),
        assignedAt: now,
      }),
    );
    this.addressByKey.set(keyString(to), address);
    return this.assignedResult(slot, false);
  }

  /** Makes addresses whose cooldown ended by `now` available; returns them. */
  expireCooldowns(now: number): string[] {
    const expired: string[] = [];
    // Called on every assign: with nothing cooling there is nothing to scan.
    if (this.inUse.cooling === 0) return expired;
    // forEach: no iterator result per slot without an optimizing compiler (see forEachAddress).
    this.slots.forEach((slot) => {
      if (slot.state.type === 'cooling' && slot.state.until <= now) {
        this.setState(slot, AVAILABLE);
        expired.push(slot.address);
      }
    });
    return expired;
  }

  /** When the next cooldown ends (for the agent's wake-up timer); undefined when nothing cools. */
  nextCooldownExpiry(): number | undefined {
    let next: number | undefined;
    if (this.inUse.cooling === 0) return next;
    this.slots.forEach((slot) => {
      if (slot.state.type === 'cooling' && (next === undefined || slot.state.until < next))
        next = slot.state.until;
    });
    return next;
  }

  /**
   * Sets the state of an address that is on an ENI and available: used by snapshot restore only.
   * Throws when the address is unknown or busy, or the key already holds an address.
   */
  restoreAddressState(address: string, state: AddressState): void {
    const slot = this.slots.get(address);
    if (!slot) throw new Error(`address ${address} is on no ENI`);
    if (slot.state.type !== 'available') throw new Error(`address ${address} appears twice`);
    if (state.type === 'assigned') {
      const key = keyString(state.key);
      const holder = this.addressByKey.get(key);
      if (holder !== undefined) {
        throw new Error(
          `container ${state.key.containerId} ${state.key.ifName} holds both ${holder} and ${address}`,
        );
      }
      this.addressByKey.set(key, address);
    }
    this.setState(slot, Object.freeze({ ...state }));
  }

  // ---- queries ------------------------------------------------------------------------------

  /** The planner's view, one entry per ENI by device index; counts are of distinct addresses. */
  usage(): EniUsage[] {
    return this.sortedEntries().map((entry) => {
      const { assigned, cooling } = entry.inUse;
      return {
        id: entry.info.id,
        primary: entry.info.primary,
        ips: entry.ips.size,
        prefixes: entry.prefixes.size,
        assigned,
        cooldown: cooling,
      };
    });
  }

  /** Node-wide counts. */
  totals(): Totals {
    const { assigned, cooling } = this.inUse;
    const total = this.slots.size;
    return { total, assigned, cooling, free: total - assigned - cooling };
  }

  /**
   * Secondary /32s on the ENI that the planner's `unassignIps` may take: available (not cooling),
   * highest first, so the low addresses that assign prefers stay.
   */
  releasableIps(eniId: string): string[] {
    const entry = this.eniById.get(eniId);
    if (!entry) return [];
    return [...entry.ips]
      .map((ip) => this.requireSlot(ip))
      .filter((s) => s.state.type === 'available')
      .sort((a, b) => b.num - a.num)
      .map((s) => s.address);
  }

  /** /28s on the ENI none of whose 16 addresses is assigned or cooling, highest first. */
  releasablePrefixes(eniId: string): string[] {
    const entry = this.eniById.get(eniId);
    if (!entry) return [];
    const releasable = [...entry.prefixes]
      .filter(([, addresses]) => addresses.every((a) => this.slots.get(a)?.state.type === 'available'))
      .map(([prefix]) => prefix);
    return sortByAddress(releasable, 'descending');
  }

  assignmentOf(key: AssignmentKey): Assignment | undefined {
    const address = this.addressByKey.get(keyString(key));
    if (address === undefined) return undefined;
    const slot = this.requireSlot(address);
    return toAssignment(slot, this.eniOf(slot));
  }

  /** Every assignment, by address: for introspection and the pod-watch leak check. */
  assignments(): Assignment[] {
    // Only assigned slots are sorted: the leak scan reads this every few seconds on every node.
    const assigned: Slot[] = [];
    for (const slot of this.slots.values()) if (slot.state.type === 'assigned') assigned.push(slot);
    return assigned
      .sort((a, b) => a.num - b.num)
      .flatMap((slot) => {
        const a = toAssignment(slot, this.eniOf(slot));
        return a ? [a] : [];
      });
  }

  /** Every address with its ENI and state, by address: for accounting, snapshots and metrics. */
  addressRecords(): AddressRecord[] {
    return this.sortedSlots().map((slot) => {
      const eni = this.eniOf(slot);
      return {
        address: slot.address,
        eniId: slot.eniId,
        subnetId: eni.info.subnetId,
        pool: eni.info.pool,
        prefix: slot.prefix,
        state: slot.state,
      };
    });
  }

  /**
   * Every address with its state, by address, without a record per address: for the snapshot the
   * checkpoint writes after every change.
   */
  forEachAddress(visit: (address: string, state: AddressState) => void): void {
    // forEach, like the loops below that run on every ADD or write: the agent runs without an
    // optimizing compiler (--no-opt), and there each step of a for-of allocates a result object.
    this.sortedSlots().forEach((slot) => {
      visit(slot.address, slot.state);
    });
  }

  /**
   * Starts a new list of state changes (see changesSinceMark): the checkpoint marks the state it
   * has written, whole or as changes.
   */
  markChanges(): void {
    if (this.changed) this.changed.clear();
    else this.changed = new Set();
  }

  /**
   * The addresses whose state (available, assigned, cooling) changed since markChanges(), in no
   * particular order; undefined when no mark was made or an ENI or an address came or went since,
   * which only a whole snapshot can say.
   */
  changesSinceMark(): ReadonlySet<string> | undefined {
    return this.changed;
  }

  /** An address's state; undefined when it is on no ENI. */
  stateOf(address: string): AddressState | undefined {
    return this.slots.get(address)?.state;
  }

  /** Secondary /32s and /28s on one ENI, canonical and sorted (for snapshots). */
  sourcesOf(eniId: string): { ips: string[]; prefixes: string[] } | undefined {
    const entry = this.eniById.get(eniId);
    if (!entry) return undefined;
    // By the numbers the slots already hold: parsing every CIDR again would cost each snapshot.
    const num = (address: string): number => this.requireSlot(address).num;
    const ips: string[] = [];
    entry.ips.forEach((ip) => ips.push(ip));
    const prefixes: { prefix: string; base: number }[] = [];
    entry.prefixes.forEach((addresses, prefix) =>
      prefixes.push({ prefix, base: num(addresses[0] ?? prefix) }),
    );
    return {
      ips: ips.sort((a, b) => num(a) - num(b)),
      prefixes: prefixes.sort((a, b) => a.base - b.base).map((p) => p.prefix),
    };
  }

  // ---- internals ----------------------------------------------------------------------------

  private candidates(constraints: AssignConstraints): EniCandidate[] {
    return this.sortedEntries()
      .filter((e) => constraints.subnetId === undefined || e.info.subnetId === constraints.subnetId)
      .filter((e) => e.info.pool === constraints.pool)
      .filter((e) => !(constraints.excludePrimaryEni === true && e.info.primary))
      .map((e) => ({
        id: e.info.id,
        deviceIndex: e.info.deviceIndex,
        slots: this.slotsOf(e),
        assigned: e.inUse.assigned,
      }));
  }

  /** Forgets one address; returns its assignment when it had one (so the caller can report it). */
  private dropSlot(slot: Slot): Assignment[] {
    const eni = this.eniOf(slot);
    const assignment = toAssignment(slot, eni);
    if (assignment) this.addressByKey.delete(keyString(assignment.key));
    this.count(eni, slot.state, -1);
    this.slots.delete(slot.address);
    this.addressesChanged();
    return assignment ? [assignment] : [];
  }

  /**
   * Every change of an address's state goes through here, so that the in-use counts and the
   * changes since markChanges() stay exact.
   */
  private setState(slot: Slot, state: AddressState): void {
    const eni = this.eniOf(slot);
    this.count(eni, slot.state, -1);
    slot.state = state;
    this.count(eni, state, 1);
    this.changed?.add(slot.address);
  }

  private count(eni: EniEntry, state: AddressState, delta: 1 | -1): void {
    if (state.type === 'available') return;
    eni.inUse[state.type] += delta;
    this.inUse[state.type] += delta;
  }

  private assignedResult(slot: Slot, existing: boolean): AssignResult {
    const eni = this.eniOf(slot);
    return {
      type: 'assigned',
      address: slot.address,
      eniId: eni.info.id,
      subnetId: eni.info.subnetId,
      subnetCidr: eni.cidr.text,
      prefixLength: eni.cidr.prefixLength,
      gateway: subnetGateway(eni.cidr),
      existing,
    };
  }

  /** The slots by address changed (added or removed): the lists kept for them are stale. */
  private addressesChanged(): void {
    this.sorted = undefined;
    this.slotLists.clear();
    this.changed = undefined;
  }

  private slotsOf(entry: EniEntry): readonly Slot[] {
    const kept = this.slotLists.get(entry.info.id);
    if (kept) return kept;
    // forEach, which allocates nothing per step without an optimizing compiler (a for-of does).
    const slots: Slot[] = [];
    entry.ips.forEach((ip) => slots.push(this.requireSlot(ip)));
    entry.prefixes.forEach((addresses) => {
      addresses.forEach((address) => slots.push(this.requireSlot(address)));
    });
    this.slotLists.set(entry.info.id, slots);
    return slots;
  }

  private sortedEntries(): readonly EniEntry[] {
    this.sortedEniCache ??= [...this.eniById.values()].sort(
      (a, b) => a.info.deviceIndex - b.info.deviceIndex || compareText(a.info.id, b.info.id),
    );
    return this.sortedEniCache;
  }

  private sortedSlots(): readonly Slot[] {
    this.sorted ??= [...this.slots.values()].sort((a, b) => a.num - b.num);
    return this.sorted;
  }

  private requireSlot(address: string): Slot {
    const slot = this.slots.get(address);
    if (!slot) throw new Error(`datastore corrupt: no slot for ${address}`);
    return slot;
  }

  private eniOf(slot: Slot): EniEntry {
    const entry = this.eniById.get(slot.eniId);
    if (!entry) throw new Error(`datastore corrupt: ${slot.address} is on unknown ENI ${slot.eniId}`);
    return entry;
  }
}

function sameEni(a: EniInfo, b: EniInfo): boolean {
  return (
    a.subnetId === b.subnetId &&
    a.subnetCidr === b.subnetCidr &&
    a.deviceIndex === b.deviceIndex &&
    a.primary === b.primary &&
    a.pool === b.pool
  );
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
