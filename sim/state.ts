import type { Clock } from '../time/clock.js';
import { SubnetAddresses } from './address-allocator.js';
import type { SimConfig, SimSubnetSpec } from './config.js';
import { Ec2WireError, eniNotFound } from './errors.js';
import { cidrsOverlap, cidrWithin, ipToNumber, parseCidr } from '../ipam/address.js';
import { eniAt, type SimEni, type SimInstance, type SimSubnet, type SimVpc } from './model.js';
import { SeededRandom } from './random.js';
import { Versioned } from './versioned.js';

interface SubnetEntry {
  readonly addresses: SubnetAddresses;
  readonly record: Versioned<SimSubnet>;
}

/** Random streams, one per concern, so that one feature does not shift another's choices. */
const STREAM_ADDRESSES = 1;
const STREAM_NOT_FOUND = 3;

/**
 * The simulated account: VPCs, subnets with their address sets, instances and ENIs, each kept with
 * its visibility history. Mutations act on the current state at `clock.now()`; readers that model
 * Describe* and IMDS use the `visible*` methods. It knows no wire format.
 */
export class SimState {
  private readonly vpcs = new Map<string, SimVpc>();
  private readonly subnets = new Map<string, SubnetEntry>();
  private readonly instances = new Map<string, Versioned<SimInstance>>();
  private readonly enis = new Map<string, Versioned<SimEni>>();
  /** ENIs that EC2 does not yet know for mutations (the "NotFound just after create" quirk). */
  private readonly unknownUntil = new Map<string, number>();
  /**
   * ENIs that any stored version shows attached to an instance: the candidates for per-node queries,
   * so that hundreds of nodes asking about their own ENIs do not each scan the whole account.
   * Entries may be stale (callers re-check the attachment); they only ever over-approximate.
   */
  private readonly byInstance = new Map<string, Set<string>>();
  private liveEnis = 0;
  private readonly addressRandom: SeededRandom;
  private readonly notFoundRandom: SeededRandom;
  private counter = 0;
  private readonly changeListeners = new Set<(eniId: string) => void>();

  constructor(
    readonly config: SimConfig,
    readonly clock: Clock,
  ) {
    this.addressRandom = new SeededRandom(config.seed, STREAM_ADDRESSES);
    this.notFoundRandom = new SeededRandom(config.seed, STREAM_NOT_FOUND);
  }

  now(): number {
    return this.clock.now();
  }

  /** When a mutation made now becomes visible to Describe* and IMDS. */
  visibleAfterNow(): number {
    return this.clock.now() + this.config.visibilityDelayMs;
  }

  /** The instant whose state Describe* shows now: lifecycle transitions are read at this time. */
  viewTime(): number {
    return this.clock.now() - this.config.visibilityDelayMs;
  }

  /** Deterministic ids shaped like EC2's (17 hex digits). */
  newId(prefix: string): string {
    this.counter++;
    return `${prefix}-0${this.counter.toString(16).padStart(16, '0')}`;
  }

  newMac(): string {
    this.counter++;
    const n = this.counter;
    // 0e: is a locally administered unicast prefix like the ones EC2 hands out.
    return ['0e', (n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255, 0x5e]
      .map((b) => (typeof b === 'string' ? b : b.toString(16).padStart(2, '0')))
      .join(':');
  }

  // --- VPCs and subnets -----------------------------------------------------------------------

  addVpc(vpcId: string, cidr: string): SimVpc {
    if (this.vpcs.has(vpcId)) throw new Error(`VPC ${vpcId} exists`);
    parseCidr(cidr);
    const vpc = { vpcId, cidr };
    this.vpcs.set(vpcId, vpc);
    return vpc;
  }

  vpcList(): SimVpc[] {
    return [...this.vpcs.values()];
  }

  vpc(vpcId: string): SimVpc | undefined {
    return this.vpcs.get(vpcId);
  }

  addSubnet(spec: SimSubnetSpec, vpcId: string): SimSubnet {
    const vpc = this.vpcs.get(vpcId);
    if (!vpc) throw new Error(`unknown VPC ${vpcId}`);
    if (this.subnets.has(spec.id)) throw new Error(`subnet ${spec.id} exists`);
    const cidr = parseCidr(spec.cidr);
    if (!cidrWithin(parseCidr(vpc.cidr), cidr))
      throw new Error(`subnet ${spec.id} ${spec.cidr} is outside ${vpc.cidr}`);
    for (const [id, other] of this.subnets) {
      if (cidrsOverlap(other.addresses.cidr, cidr)) throw new Error(`subnet ${spec.id} overlaps ${id}`);
    }
    const addresses = new SubnetAddresses(spec.cidr, this.addressRandom);
    const used = spec.usedAddresses ?? 0;
    if (addresses.takeByOthers(used) < used)
      throw new Error(`subnet ${spec.id} has fewer than ${used} usable addresses`);
    const record: SimSubnet = {
      subnetId: spec.id,
      vpcId,
      availabilityZone: spec.az,
      cidr: spec.cidr,
      tags: { ...spec.tags },
      availableIpAddressCount: addresses.freeCount,
    };
    // The world a simulation starts from is visible at once.
    this.subnets.set(spec.id, { addresses, record: new Versioned(record, this.now()) });
    return record;
  }

  subnetIds(): string[] {
    return [...this.subnets.keys()];
  }

  currentSubnet(subnetId: string): SimSubnet | undefined {
    return this.subnets.get(subnetId)?.record.current;
  }

  visibleSubnets(): SimSubnet[] {
    const now = this.now();
    const out: SimSubnet[] = [];
    for (const entry of this.subnets.values()) {
      const s = entry.record.visible(now);
      if (s) out.push(s);
    }
    return out;
  }

  addressesOf(subnetId: string): SubnetAddresses {
    const entry = this.subnets.get(subnetId);
    if (!entry)
      throw new Ec2WireError('InvalidSubnetID.NotFound', `The subnet ID '${subnetId}' does not exist`);
    return entry.addresses;
  }

  /** Records a change of the subnet's free count or tags; Describe sees it after the delay. */
  updateSubnet(subnetId: string, change: Partial<Pick<SimSubnet, 'tags'>> = {}): void {
    const entry = this.subnets.get(subnetId);
    const current = entry?.record.current;
    if (!entry || !current) return;
    entry.record.set(
      { ...current, ...change, availableIpAddressCount: entry.addresses.freeCount },
      this.visibleAfterNow(),
    );
  }

  // --- instances ------------------------------------------------------------------------------

  putInstance(instance: SimInstance, visibleAt = this.visibleAfterNow()): void {
    const existing = this.instances.get(instance.instanceId);
    if (existing) existing.set(instance, visibleAt);
    else this.instances.set(instance.instanceId, new Versioned(instance, visibleAt));
  }

  currentInstance(instanceId: string): SimInstance | undefined {
    return this.instances.get(instanceId)?.current;
  }

  visibleInstance(instanceId: string): SimInstance | undefined {
    return this.instances.get(instanceId)?.visible(this.now());
  }

  visibleInstances(): SimInstance[] {
    const now = this.now();
    const out: SimInstance[] = [];
    for (const v of this.instances.values()) {
      const i = v.visible(now);
      if (i) out.push(i);
    }
    return out;
  }

  currentInstances(): SimInstance[] {
    const out: SimInstance[] = [];
    for (const v of this.instances.values()) if (v.current) out.push(v.current);
    return out;
  }

  // --- ENIs -----------------------------------------------------------------------------------

  /**
   * Calls `listener` after every change to an ENI (created, attached, detached, addresses assigned
   * or unassigned, deleted); returns the unsubscribe function. Attach and detach complete later on
   * their own (see eniAt): a listener that mirrors attachments re-reads at their `completesAt`.
   */
  onEniChange(listener: (eniId: string) => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  private eniChanged(eniId: string): void {
    for (const listener of this.changeListeners) listener(eniId);
  }

  /** Stores a new or changed ENI; a new one may be unknown to mutations for a while (config). */
  putEni(eni: SimEni, visibleAt = this.visibleAfterNow()): void {
    const instanceId = eni.attachment?.instanceId;
    if (instanceId !== undefined) {
      const ids = this.byInstance.get(instanceId) ?? new Set<string>();
      ids.add(eni.eniId);
      this.byInstance.set(instanceId, ids);
    }
    const existing = this.enis.get(eni.eniId);
    if (existing?.current === undefined) this.liveEnis++;
    if (existing) {
      existing.set(eni, visibleAt);
      this.eniChanged(eni.eniId);
      return;
    }
    this.enis.set(eni.eniId, new Versioned(eni, visibleAt));
    const quirk = this.config.notFoundAfterCreate;
    if (this.notFoundRandom.chance(quirk.probability))
      this.unknownUntil.set(eni.eniId, this.now() + quirk.windowMs);
    this.eniChanged(eni.eniId);
  }

  deleteEni(eniId: string): void {
    const record = this.enis.get(eniId);
    if (record?.current !== undefined) this.liveEnis--;
    record?.set(undefined, this.visibleAfterNow());
    this.unknownUntil.delete(eniId);
    this.eniChanged(eniId);
  }

  /** The ENI as it is now (transitions applied), or undefined if it does not exist. */
  currentEni(eniId: string): SimEni | undefined {
    const eni = this.enis.get(eniId)?.current;
    return eni && eniAt(eni, this.now());
  }

  /** The ENI a mutation may act on, or InvalidNetworkInterfaceID.NotFound. */
  mutableEni(eniId: string): SimEni {
    const eni = this.currentEni(eniId);
    const unknownUntil = this.unknownUntil.get(eniId);
    if (unknownUntil !== undefined && this.now() >= unknownUntil) this.unknownUntil.delete(eniId);
    if (!eni || (unknownUntil !== undefined && this.now() < unknownUntil)) throw eniNotFound(eniId);
    return eni;
  }

  currentEnis(): SimEni[] {
    const now = this.now();
    const out: SimEni[] = [];
    for (const v of this.enis.values()) if (v.current) out.push(eniAt(v.current, now));
    return out;
  }

  /** ENIs that exist now (what the regional ENI quota counts). */
  liveEniCount(): number {
    return this.liveEnis;
  }

  /** Ids of ENIs that are or were attached to the instance; a superset, see `byInstance`. */
  eniIdsOfInstance(instanceId: string): ReadonlySet<string> {
    return this.byInstance.get(instanceId) ?? new Set();
  }

  /**
   * ENIs as Describe* shows them now, in id order (stable pages); `candidates` narrows the scan to
   * those ids when the caller knows them (ids named in the request, or an instance's ENIs).
   */
  visibleEnis(where?: (eni: SimEni) => boolean, candidates?: Iterable<string>): SimEni[] {
    const now = this.now();
    const view = this.viewTime();
    const out: SimEni[] = [];
    const visit = (id: string, v: Versioned<SimEni>): void => {
      const eni = v.visible(now);
      if (eni) {
        const seen = eniAt(eni, view);
        if (!where || where(seen)) out.push(seen);
      } else if (v.isGone(now)) this.enis.delete(id);
    };
    if (candidates) {
      for (const id of candidates) {
        const v = this.enis.get(id);
        if (v) visit(id, v);
      }
    } else {
      // A Map's iteration survives deleting the entry being visited.
      for (const [id, v] of this.enis) visit(id, v);
    }
    return out.sort((a, b) => (a.eniId < b.eniId ? -1 : a.eniId > b.eniId ? 1 : 0));
  }

  /** ENIs attached (in any attachment state) to an instance now. */
  enisOfInstance(instanceId: string): SimEni[] {
    const out: SimEni[] = [];
    for (const id of this.eniIdsOfInstance(instanceId)) {
      const eni = this.currentEni(id);
      if (eni?.attachment?.instanceId === instanceId) out.push(eni);
    }
    return out;
  }

  /** Frees every address of an ENI in its subnet. */
  releaseEniAddresses(eni: SimEni): void {
    const addresses = this.addressesOf(eni.subnetId);
    addresses.release(ipToNumber(eni.primaryIp));
    for (const ip of eni.secondaryIps) addresses.release(ipToNumber(ip));
    for (const prefix of eni.prefixes) addresses.releasePrefix(parseCidr(prefix).base);
    this.updateSubnet(eni.subnetId);
  }
}
