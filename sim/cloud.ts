import { lookupInstanceType } from '../ipam/instance-types.js';
import type { MetadataSource } from '../provider/metadata.js';
import type { Clock } from '../time/clock.js';
import { allocateAll } from './actions/allocate.js';
import { terminateInstance } from './actions/terminate-instances.js';
import { resolveSimConfig, type SimConfig, type SimConfigInput, type SimSubnetSpec } from './config.js';
import { Ec2Endpoint } from './ec2-endpoint.js';
import { SimMetadataSource } from './imds.js';
import { InProcessEc2Handler } from './in-process-handler.js';
import {
  eniStatus,
  type EniStatus,
  type SimEni,
  type SimInstance,
  type SimSubnet,
  type SimVpc,
} from './model.js';
import { SimState } from './state.js';
import type { Ec2Stats } from './stats.js';

export interface LaunchOptions {
  instanceType: string;
  subnetId: string;
  securityGroupIds?: string[];
  tags?: Record<string, string>;
}

/** An ENI as EC2 holds it right now (not as Describe* shows it), for checks at the end of a run. */
export type EniInspection = SimEni & { status: EniStatus };

export interface SubnetInspection {
  subnetId: string;
  cidr: string;
  /** Addresses EC2 could still hand out (exact, current). */
  free: number;
  /** The subnet's size minus AWS's five reserved addresses. */
  usable: number;
}

/**
 * The simulated cloud: one AWS account and Region with a VPC, subnets, instances and ENIs behind an
 * EC2 Query API endpoint and IMDS. Runners and tests build the world through this control API (not
 * subject to throttling, faults or latency) and let the code under test reach it through the SDK,
 * either with `requestHandler()` (in-process, simulated time) or over HTTP (`Ec2HttpServer`).
 */
export class SimulatedCloud {
  readonly config: SimConfig;
  readonly endpoint: Ec2Endpoint;
  private readonly state: SimState;

  constructor(input: SimConfigInput, clock: Clock) {
    this.config = resolveSimConfig(input);
    this.state = new SimState(this.config, clock);
    this.state.addVpc(this.config.vpcId, this.config.vpcCidr);
    for (const subnet of this.config.subnets) this.state.addSubnet(subnet, this.config.vpcId);
    this.endpoint = new Ec2Endpoint(this.state);
  }

  get clock(): Clock {
    return this.state.clock;
  }

  // --- building the world -----------------------------------------------------------------------

  createVpc(cidr: string, vpcId = this.state.newId('vpc')): SimVpc {
    return this.state.addVpc(vpcId, cidr);
  }

  createSubnet(spec: SimSubnetSpec, vpcId = this.config.vpcId): SimSubnet {
    return this.state.addSubnet(spec, vpcId);
  }

  /**
   * A running instance with its primary ENI at device index 0 (DeleteOnTermination), already
   * visible to Describe* and IMDS: a node exists before its agent starts.
   */
  launchInstance(options: LaunchOptions): SimInstance {
    if (!lookupInstanceType(options.instanceType))
      throw new Error(`unknown instance type ${options.instanceType}`);
    const subnet = this.state.currentSubnet(options.subnetId);
    if (!subnet) throw new Error(`unknown subnet ${options.subnetId}`);
    const now = this.state.now();
    const allocation = allocateAll(this.state.addressesOf(subnet.subnetId), subnet.subnetId, {
      primary: 'any',
      ipCount: 0,
      prefixCount: 0,
    });
    const instanceId = this.state.newId('i');
    const groups = options.securityGroupIds ?? ['sg-0default'];
    const eni: SimEni = {
      eniId: this.state.newId('eni'),
      subnetId: subnet.subnetId,
      vpcId: subnet.vpcId,
      availabilityZone: subnet.availabilityZone,
      description: 'Primary network interface',
      macAddress: this.state.newMac(),
      primaryIp: allocation.primary ?? '',
      secondaryIps: [],
      prefixes: [],
      securityGroupIds: groups,
      tags: {},
      attachment: {
        attachmentId: this.state.newId('eni-attach'),
        instanceId,
        deviceIndex: 0,
        networkCardIndex: 0,
        status: 'attached',
        completesAt: now,
        deleteOnTermination: true,
        attachTime: now,
      },
      createdAt: now,
    };
    const instance: SimInstance = {
      instanceId,
      instanceType: options.instanceType,
      subnetId: subnet.subnetId,
      vpcId: subnet.vpcId,
      availabilityZone: subnet.availabilityZone,
      securityGroupIds: groups,
      primaryEniId: eni.eniId,
      state: 'running',
      launchedAt: now,
      tags: { ...options.tags },
    };
    this.state.putEni(eni, now);
    this.state.putInstance(instance, now);
    this.state.updateSubnet(subnet.subnetId);
    return instance;
  }

  /** As TerminateInstances: DeleteOnTermination ENIs go, the others are left `available`. */
  terminateInstance(instanceId: string): void {
    terminateInstance(this.state, instanceId);
  }

  /** Other users take every free address of the subnet; returns how many they took. */
  exhaustSubnet(subnetId: string): number {
    const taken = this.state.addressesOf(subnetId).takeByOthers(Number.MAX_SAFE_INTEGER);
    this.state.updateSubnet(subnetId);
    return taken;
  }

  // --- transports -------------------------------------------------------------------------------

  /** An SDK `requestHandler` that reaches this cloud in-process, on its clock. */
  requestHandler(): InProcessEc2Handler {
    return new InProcessEc2Handler(this.endpoint);
  }

  /** IMDS of one instance, in-process. */
  metadata(instanceId: string): MetadataSource {
    return new SimMetadataSource(this.state, instanceId);
  }

  /** The state, for the HTTP IMDS server (`new ImdsHttpServer(cloud.stateForImds())`). */
  stateForImds(): SimState {
    return this.state;
  }

  // --- inspection (current truth, not the eventually consistent view) ---------------------------

  enis(): EniInspection[] {
    return this.state
      .currentEnis()
      .map((e) => ({ ...e, status: eniStatus(e) }))
      .sort((a, b) => (a.eniId < b.eniId ? -1 : 1));
  }

  eni(eniId: string): EniInspection | undefined {
    const e = this.state.currentEni(eniId);
    return e && { ...e, status: eniStatus(e) };
  }

  instances(): SimInstance[] {
    return this.state.currentInstances();
  }

  subnets(): SubnetInspection[] {
    return this.state.subnetIds().map((subnetId) => this.subnet(subnetId));
  }

  subnet(subnetId: string): SubnetInspection {
    const addresses = this.state.addressesOf(subnetId);
    const record = this.state.currentSubnet(subnetId);
    return { subnetId, cidr: record?.cidr ?? '', free: addresses.freeCount, usable: addresses.usableCount };
  }

  stats(): Ec2Stats {
    return this.endpoint.stats.snapshot();
  }
}
