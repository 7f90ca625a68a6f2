import { lookupInstanceType, type InstanceLimits } from '../../../ipam/instance-types.js';
import type {
  AttachedEni,
  CreateEniRequest,
  Ec2Network,
  InstanceIdentity,
  LeakedEni,
  SubnetInfo,
} from '../../../provider/ec2-network.js';
import type { Clock } from '../../../time/clock.js';
import { Ec2Error } from '../../../provider/errors.js';
import type { Ec2ErrorClass } from '../../../provider/ec2-network.js';

/**
 * An in-memory EC2 for agent tests: state, latencies on the injected clock, per-operation
 * injectable failures, and address uniqueness per subnet. The simulator (sim/) is the high-fidelity
 * one; this fake keeps agent tests small and exact.
 */
export class FakeEc2Network implements Ec2Network {
  readonly enis = new Map<string, AttachedEni>();
  readonly calls: string[] = [];
  private readonly failures = new Map<string, unknown[]>();
  private readonly lasting = new Map<string, () => unknown>();
  private nextEni = 1;
  private attaching = 0;
  private readonly nextHost = new Map<string, number>();
  latencyMs = { create: 400, attach: 2000, assign: 300, other: 100 };

  constructor(
    private readonly clock: Clock,
    readonly instanceType = 'm5.large',
    readonly subnets: SubnetInfo[] = [
      {
        subnetId: 'subnet-a',
        availabilityZone: 'us-east-1a',
        cidr: '10.0.0.0/20',
        availableIpCount: 4091,
        tags: {},
      },
    ],
  ) {
    const primary = this.newEni('subnet-a', 0, true);
    this.enis.set(primary.eniId, primary);
  }

  failNext(operation: string, error: unknown): void {
    this.failures.set(operation, [...(this.failures.get(operation) ?? []), error]);
  }

  /** Every call of `operation` fails with a fresh `error()` until clearFaults(): a fault that lasts. */
  failAlways(operation: string, error: () => unknown): void {
    this.lasting.set(operation, error);
  }

  /** The lasting faults are over (queued failNext ones stay). */
  clearFaults(): void {
    this.lasting.clear();
  }

  identity(): Promise<InstanceIdentity> {
    this.calls.push('identity');
    const primary = [...this.enis.values()].find((e) => e.primary)!;
    return Promise.resolve({
      instanceId: 'i-0123456789abcdef0',
      instanceType: this.instanceType,
      region: 'us-east-1',
      availabilityZone: 'us-east-1a',
      vpcId: 'vpc-1',
      vpcCidrs: ['10.0.0.0/16'],
      subnetId: 'subnet-a',
      subnetCidr: this.subnet('subnet-a').cidr,
      primaryEniId: primary.eniId,
      primaryIp: primary.primaryIp,
      mac: primary.macAddress,
      securityGroupIds: ['sg-1'],
    });
  }

  instanceLimits(instanceType: string): Promise<InstanceLimits> {
    const limits = lookupInstanceType(instanceType);
    if (!limits) return Promise.reject(new Error(`unknown instance type ${instanceType}`));
    return Promise.resolve(limits);
  }

  async listAttachedEnis(): Promise<AttachedEni[]> {
    await this.op('describe', this.latencyMs.other);
    return [...this.enis.values()].map((e) => ({
      ...e,
      secondaryIps: [...e.secondaryIps],
      prefixes: [...e.prefixes],
    }));
  }

  async discoverSubnets(): Promise<SubnetInfo[]> {
    // No latency (a cached answer, mostly), but failures can be injected as 'discoverSubnets'.
    const lasting = this.lasting.get('discoverSubnets');
    if (lasting) throw lasting();
    return Promise.resolve(
      this.subnets.filter((s) => s.tags['kubernetes.io/role/cni'] !== '0').map((s) => ({ ...s })),
    );
  }

  describeSubnets(ids: readonly string[]): Promise<SubnetInfo[]> {
    return Promise.resolve(this.subnets.filter((s) => ids.includes(s.subnetId)).map((s) => ({ ...s })));
  }

  /**
   * Attaches an ENI behind the agent's back: one that is not the agent's (`unmanaged`: a trunk,
   * EFA or no_manage one), or an empty one of its own left by a crash.
   */
  attachExtra(secondaryIps: number, unmanaged?: string): AttachedEni {
    const used = new Set([...this.enis.values()].map((e) => e.deviceIndex));
    let index = 1;
    while (used.has(index)) index++;
    const eni: AttachedEni = {
      ...this.newEni('subnet-a', index, false),
      ...(unmanaged === undefined ? {} : { unmanaged }),
    };
    eni.secondaryIps.push(...this.take('subnet-a', secondaryIps));
    this.enis.set(eni.eniId, eni);
    return eni;
  }

  /** Every CreateNetworkInterface request, as the agent sent it. */
  readonly createRequests: CreateEniRequest[] = [];

  async createAndAttachEni(request: CreateEniRequest): Promise<AttachedEni> {
    this.createRequests.push(request);
    await this.op('create', this.latencyMs.create);
    const limits = lookupInstanceType(this.instanceType)!;
    if (this.enis.size >= limits.maxEnis) throw ec2Error('limit', 'AttachmentLimitExceeded');
    if (request.secondaryIpCount + request.prefixCount > limits.ipv4PerEni - 1) {
      throw ec2Error('limit', 'PrivateIpAddressLimitExceeded');
    }
    const eni = this.newEni(request.subnetId, -1, false, request.tags ?? {});
    eni.secondaryIps.push(...this.take(request.subnetId, request.secondaryIpCount));
    for (let i = 0; i < request.prefixCount; i++) eni.prefixes.push(this.takePrefix(request.subnetId));
    // EC2 counts attachments under way against the limit too: two agents (a dead one's requests
    // still landing, and its successor's) cannot both attach past it.
    if (this.enis.size + this.attaching >= limits.maxEnis) throw ec2Error('limit', 'AttachmentLimitExceeded');
    this.attaching++;
    try {
      await this.op('attach', this.latencyMs.attach);
    } finally {
      this.attaching--;
    }
    // The device index is taken when the attachment completes, so concurrent attaches never share one.
    const used = new Set([...this.enis.values()].map((e) => e.deviceIndex));
    let index = 1;
    while (used.has(index)) index++;
    eni.deviceIndex = index;
    this.enis.set(eni.eniId, eni);
    return { ...eni, secondaryIps: [...eni.secondaryIps], prefixes: [...eni.prefixes] };
  }

  async assignIps(eniId: string, count: number): Promise<string[]> {
    await this.op('assign', this.latencyMs.assign);
    const eni = this.eni(eniId);
    if (this.slotsUsed(eni) + count > this.slotsPerEni())
      throw ec2Error('limit', 'PrivateIpAddressLimitExceeded');
    const ips = this.take(eni.subnetId, count);
    eni.secondaryIps.push(...ips);
    return ips;
  }

  async assignPrefixes(eniId: string, count: number): Promise<string[]> {
    await this.op('assign', this.latencyMs.assign);
    const eni = this.eni(eniId);
    // Secondary IPs and /28 prefixes share the ENI's secondary slots.
    if (this.slotsUsed(eni) + count > this.slotsPerEni())
      throw ec2Error('limit', 'PrivateIpAddressLimitExceeded');
    const prefixes = Array.from({ length: count }, () => this.takePrefix(eni.subnetId));
    eni.prefixes.push(...prefixes);
    return prefixes;
  }

  async unassignIps(eniId: string, ips: readonly string[]): Promise<void> {
    await this.op('unassign', this.latencyMs.other);
    const eni = this.eni(eniId);
    eni.secondaryIps = eni.secondaryIps.filter((ip) => !ips.includes(ip));
  }

  async unassignPrefixes(eniId: string, prefixes: readonly string[]): Promise<void> {
    await this.op('unassign', this.latencyMs.other);
    const eni = this.eni(eniId);
    eni.prefixes = eni.prefixes.filter((p) => !prefixes.includes(p));
  }

  async detachAndDeleteEni(eniId: string): Promise<void> {
    await this.op('delete', this.latencyMs.other);
    this.enis.delete(eniId);
    const index = this.unattached.findIndex((e) => e.eniId === eniId);
    if (index >= 0) this.unattached.splice(index, 1);
  }

  /** ENIs left `available` (created, never attached); findLeakedEnis returns those older than the grace. */
  readonly unattached: LeakedEni[] = [];

  findLeakedEnis(_instanceId: string, graceMs: number, createdBefore = Infinity): Promise<LeakedEni[]> {
    const now = this.clock.now();
    return Promise.resolve(
      this.unattached.filter(
        (e) => e.createdAt !== undefined && now - e.createdAt >= graceMs && e.createdAt < createdBefore,
      ),
    );
  }

  /** Every secondary address on every ENI. */
  allAddresses(): string[] {
    return [...this.enis.values()].flatMap((e) => e.secondaryIps);
  }

  /** Every /28 prefix on every ENI. */
  allPrefixes(): string[] {
    return [...this.enis.values()].flatMap((e) => e.prefixes);
  }

  /** Every address a pod could get: secondary IPs plus the 16 addresses of each /28. */
  podAddresses(): string[] {
    const inPrefixes = this.allPrefixes().flatMap((p) => {
      const base = toNumber(p.split('/')[0]!);
      return Array.from({ length: 16 }, (_, i) => toAddress(base + i));
    });
    return [...this.allAddresses(), ...inPrefixes];
  }

  /** Calls that change EC2 (and spend the account's mutation budget). */
  mutatingCalls(): string[] {
    return this.calls.filter((c) => MUTATING.has(c));
  }

  /** The primary ENI (device index 0). */
  primaryEni(): AttachedEni {
    return [...this.enis.values()].find((e) => e.primary)!;
  }

  private slotsPerEni(): number {
    return lookupInstanceType(this.instanceType)!.ipv4PerEni - 1;
  }

  private slotsUsed(eni: AttachedEni): number {
    return eni.secondaryIps.length + eni.prefixes.length;
  }

  private async op(name: string, latency: number): Promise<void> {
    this.calls.push(name);
    await this.clock.sleep(latency);
    const lasting = this.lasting.get(name);
    if (lasting) throw lasting();
    const queued = this.failures.get(name);
    if (queued && queued.length > 0) throw queued.shift();
  }

  private eni(eniId: string): AttachedEni {
    const eni = this.enis.get(eniId);
    if (!eni) throw ec2Error('permanent', 'InvalidNetworkInterfaceID.NotFound');
    return eni;
  }

  private subnet(subnetId: string): SubnetInfo {
    const subnet = this.subnets.find((s) => s.subnetId === subnetId);
    if (!subnet) throw ec2Error('permanent', 'InvalidSubnetID.NotFound');
    return subnet;
  }

  private newEni(
    subnetId: string,
    deviceIndex: number,
    primary: boolean,
    tags: Record<string, string> = {},
  ): AttachedEni {
    const id = this.nextEni++;
    const subnet = this.subnet(subnetId);
    return {
      eniId: `eni-${String(id).padStart(8, '0')}`,
      attachmentId: `eni-attach-${id}`,
      deviceIndex,
      primary,
      subnetId,
      subnetCidr: subnet.cidr,
      macAddress: `02:00:00:00:00:${id.toString(16).padStart(2, '0')}`,
      primaryIp: this.take(subnetId, 1)[0]!,
      secondaryIps: [],
      prefixes: [],
      securityGroupIds: ['sg-1'],
      tags,
    };
  }

  /** Sequential host addresses after AWS's four reserved ones; /28 prefixes come from the top half. */
  private take(subnetId: string, count: number): string[] {
    const subnet = this.subnet(subnetId);
    if (subnet.availableIpCount < count)
      throw ec2Error('subnet-full', 'InsufficientFreeAddressesInSubnet').withSubnet(subnetId);
    const base = toNumber(subnet.cidr.split('/')[0]!);
    const next = this.nextHost.get(subnetId) ?? 4;
    this.nextHost.set(subnetId, next + count);
    subnet.availableIpCount -= count;
    return Array.from({ length: count }, (_, i) => toAddress(base + next + i));
  }

  private takePrefix(subnetId: string): string {
    const key = `${subnetId}/prefix`;
    const subnet = this.subnet(subnetId);
    const base = toNumber(subnet.cidr.split('/')[0]!);
    if (subnet.availableIpCount < 16)
      throw ec2Error('subnet-full', 'InsufficientCidrBlocks').withSubnet(subnetId);
    const next = this.nextHost.get(key) ?? 2048;
    this.nextHost.set(key, next + 16);
    subnet.availableIpCount -= 16;
    return `${toAddress(base + next)}/28`;
  }
}

const MUTATING = new Set(['create', 'attach', 'assign', 'unassign', 'delete']);

/** An EC2 error as the provider classifies it, for `failNext`. */
export function ec2Error(kind: Ec2ErrorClass, code: string): Ec2Error {
  return new Ec2Error('injected by the fake', { kind, awsCode: code, action: 'Fake', params: {} });
}

function toNumber(address: string): number {
  return address.split('.').reduce((acc, part) => acc * 256 + Number(part), 0);
}

function toAddress(value: number): string {
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}
