/**
 * An emulated VPC in network namespaces, driven by the simulated EC2's own state: what EC2 says is
 * attached and assigned is what the fabric routes, and what it does not is dropped.
 *
 *   node namespaces ──(one veth per attached ENI, node end with the ENI's MAC)──┐
 *                                                                            vpc namespace
 *   internet namespace (203.0.113.10) ──igw──┘  └──ngw── NAT gateway ──pub── internet
 *
 * - vpc: routes every address EC2 gives an ENI (primary, secondaries, /28 prefixes) to that ENI's
 *   link, holds each subnet's router address on every ENI link, answers ARP for the subnet (as the
 *   VPC does), and enforces the source/destination check: a packet from an ENI's link whose source
 *   the ENI does not hold is dropped and counted (nftables counter `srcdst_drops`). It serves the
 *   instance metadata service at 169.254.169.254 and the EC2 endpoint at EC2_ENDPOINT_IP, relayed
 *   to the simulator's unix sockets.
 * - internet: accepts only sources that are a node's primary address or the NAT gateway's, and
 *   counts the rest (`rejected`). The vpc reaches it directly (an internet gateway) or through the
 *   NAT gateway, which masquerades every VPC source (setInternetPath).
 * - each node: the primary ENI's link is configured as the OS does at boot (address, default route
 *   via the subnet router); everything else is the agent's to set up.
 * - control plane (connectControlPlane): a VPC address on the machine's end of a link from the vpc
 *   namespace, where kube-apiserver listens, as an EKS cluster's private endpoint has addresses in
 *   the VPC; nodes reach it through the VPC router like any other VPC address.
 *
 * Every namespace is named with the fabric's own prefix; close() removes them all.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { SimulatedCloud, type EniInspection } from '../../../sim/cloud.js';
import type { SimConfigInput } from '../../../sim/config.js';
import { Ec2HttpServer } from '../../../sim/http-server.js';
import { ImdsHttpServer } from '../../../sim/imds-http.js';
import type { SimInstance } from '../../../sim/model.js';
import { systemClock } from '../../../time/clock.js';
import { PeerMissingError, requireOnPath } from '../paths.js';
import { spawnPeer, type PeerProcess } from '../process.js';

const execFileAsync = promisify(execFile);

export const VPC_CIDR = '198.18.128.0/17';
export const VPC_SUBNET_ID = 'subnet-0da7a000000000001';
export const VPC_SUBNET_CIDR = '198.18.128.0/20';
export const VPC_SUBNET_GATEWAY = '198.18.128.1';
/** Where the EC2 endpoint answers inside the VPC (outside every subnet). */
export const EC2_ENDPOINT_IP = '198.18.255.250';
export const IMDS_IP = '169.254.169.254';
export const VPC_AVAILABILITY_ZONE = 'us-east-1a';
/**
 * The control plane's link is a /30 of this block: inside the VPC CIDR, outside its subnet and
 * the endpoint and NAT gateway addresses, so a node routes to it through the VPC router.
 */
const CONTROL_PLANE_BLOCK = { prefix: '198.18.248', links: 64 };
/** The vpc namespace's end of the control plane's link (no `v` first: no source/destination check). */
const CONTROL_PLANE_VPC_IFNAME = 'cplane';
/** The internet host, in a documentation range (RFC 5737). */
export const INTERNET_HOST = '203.0.113.10';
const IGW_VPC_SIDE = '192.0.2.1';
const IGW_INTERNET_SIDE = '192.0.2.2';
const NATGW_VPC_SIDE = '198.18.254.9';
const NATGW_PRIVATE_IP = '198.18.254.10';
const NATGW_INTERNET_SIDE = '192.0.2.5';
/** The NAT gateway's public address: what the internet sees of every VPC source behind it. */
export const NATGW_PUBLIC_IP = '192.0.2.6';
const FABRIC_TABLE = 'vpcfabric';
const SUBNET_PREFIX_LENGTH = Number(VPC_SUBNET_CIDR.split('/')[1]);

const RELAY = fileURLToPath(new URL('./relay.ts', import.meta.url));

export type InternetPath = 'internet-gateway' | 'nat-gateway';

export interface VpcNode {
  readonly index: number;
  /** The node's network namespace (the host network namespace of an EC2 instance). */
  readonly netns: string;
  readonly instance: SimInstance;
  readonly primaryIp: string;
  /** The agent's environment to reach EC2 and IMDS through the VPC. */
  readonly agentEnv: Readonly<Record<string, string>>;
}

interface FabricLink {
  readonly eniId: string;
  readonly node: VpcNode;
  readonly vpcIfname: string;
  readonly nodeIfname: string;
  readonly mac: string;
  readonly primaryIp: string;
}

export interface EmulatedVpcOptions {
  /** Overrides of the simulator's configuration (seed, latencies...). */
  readonly sim?: Omit<SimConfigInput, 'subnets' | 'vpcCidr'>;
}

export class EmulatedVpc {
  readonly prefix: string;
  readonly vpcNetns: string;
  readonly internetNetns: string;
  readonly natNetns: string;
  readonly nodes: VpcNode[] = [];
  private readonly links = new Map<string, FabricLink>();
  /** Destinations routed in the vpc namespace, by the ENI link they go to. */
  private routed = new Map<string, string>();
  private readonly imds: ImdsHttpServer[] = [];
  private ec2: Ec2HttpServer | undefined;
  private relay: PeerProcess | undefined;
  private unsubscribe: (() => void) | undefined;
  private syncing: Promise<void> = Promise.resolve();
  private syncQueued = false;
  private timers = new Set<NodeJS.Timeout>();
  private closed = false;
  private lastError: Error | undefined;
  /** The machine's end of the control plane's link, once connected. */
  private controlPlaneIfname: string | undefined;

  private constructor(
    readonly cloud: SimulatedCloud,
    readonly socketDir: string,
  ) {
    this.prefix = `eni-dp-${randomBytes(3).toString('hex')}-`;
    this.vpcNetns = `${this.prefix}vpc`;
    this.internetNetns = `${this.prefix}inet`;
    this.natNetns = `${this.prefix}natgw`;
  }

  static async start(options: EmulatedVpcOptions = {}): Promise<EmulatedVpc> {
    requireOnPath('vpc', 'ip');
    requireOnPath('vpc', 'nft');
    requireOnPath('vpc', 'iptables');
    if (process.getuid?.() !== 0) throw new PeerMissingError('vpc', 'the emulated VPC needs root');
    const cloud = new SimulatedCloud(
      {
        latencyMs: {
          default: 5,
          CreateNetworkInterface: 30,
          AttachNetworkInterface: 40,
          AssignPrivateIpAddresses: 20,
        },
        ...options.sim,
        vpcCidr: VPC_CIDR,
        subnets: [
          {
            id: VPC_SUBNET_ID,
            az: VPC_AVAILABILITY_ZONE,
            cidr: VPC_SUBNET_CIDR,
            tags: { 'kubernetes.io/role/cni': '1' },
          },
        ],
      },
      systemClock,
    );
    const vpc = new EmulatedVpc(cloud, await mkdtemp(join(tmpdir(), 'eni-dp-vpc-')));
    try {
      await vpc.build();
    } catch (err) {
      await vpc.close();
      throw err;
    }
    return vpc;
  }

  /** Launches an instance in the simulated EC2 and makes its node namespace; its primary ENI is up. */
  async addNode(instanceType = 't3.medium'): Promise<VpcNode> {
    const instance = this.cloud.launchInstance({ instanceType, subnetId: VPC_SUBNET_ID });
    const primary = this.cloud.eni(instance.primaryEniId);
    if (!primary) throw new Error(`the simulator launched ${instance.instanceId} without its primary ENI`);
    const index = this.nodes.length;
    const netns = `${this.prefix}n${index}`;
    await ip(['netns', 'add', netns]);
    await sysctls(netns, {
      'net.ipv6.conf.all.disable_ipv6': '1',
      'net.ipv6.conf.default.disable_ipv6': '1',
    });
    await ip(['-n', netns, 'link', 'set', 'lo', 'up']);
    const imds = new ImdsHttpServer(this.cloud.stateForImds(), { defaultInstanceId: instance.instanceId });
    await imds.startOnPath(join(this.socketDir, `imds-${primary.primaryIp}.sock`));
    this.imds.push(imds);
    const node: VpcNode = {
      index,
      netns,
      instance,
      primaryIp: primary.primaryIp,
      agentEnv: {
        AWS_REGION: this.cloud.config.region,
        AWS_EC2_ENDPOINT: `http://${EC2_ENDPOINT_IP}`,
        ENI_IPAM_IMDS_ENDPOINT: `http://${IMDS_IP}`,
      },
    };
    this.nodes.push(node);
    await this.sync();
    return node;
  }

  /** Brings the fabric in line with the simulated EC2 now (the change hook also does, on its own). */
  sync(): Promise<void> {
    if (!this.syncQueued) {
      this.syncQueued = true;
      this.syncing = this.syncing.then(async () => {
        this.syncQueued = false;
        if (this.closed) return;
        try {
          await this.syncNow();
          this.lastError = undefined;
        } catch (err) {
          this.lastError = err as Error;
        }
      });
    }
    return this.syncing.then(() => {
      if (this.lastError) throw this.lastError;
    });
  }

  /** Packets the source/destination check dropped so far. */
  async sourceDestCheckDrops(): Promise<number> {
    return counterValue(this.vpcNetns, 'inet', FABRIC_TABLE, 'srcdst_drops');
  }

  /** Packets the VPC has received from an attached ENI (on the VPC's end of the ENI's link). */
  async packetsFromEni(eniId: string): Promise<number> {
    const link = this.links.get(eniId);
    if (!link) throw new Error(`${eniId} has no link in the VPC`);
    const [stats] = JSON.parse(
      await ip(['-n', this.vpcNetns, '-j', '-s', 'link', 'show', link.vpcIfname]),
    ) as {
      stats64?: { rx: { packets: number } };
    }[];
    if (!stats?.stats64) throw new Error(`ip -s link show ${link.vpcIfname} gave no statistics`);
    return stats.stats64.rx.packets;
  }

  /** Packets the internet host refused (a source that is no node's primary address nor the NAT gateway's). */
  async internetRejected(): Promise<number> {
    return counterValue(this.internetNetns, 'inet', FABRIC_TABLE, 'rejected');
  }

  /** The subnet's route to the internet: the internet gateway (public subnet) or the NAT gateway. */
  async setInternetPath(path: InternetPath): Promise<void> {
    const via = path === 'internet-gateway' ? IGW_INTERNET_SIDE : NATGW_PRIVATE_IP;
    await ip(['-n', this.vpcNetns, 'route', 'replace', 'default', 'via', via]);
  }

  /**
   * Moves a secondary address from one ENI to another, as AssignPrivateIpAddresses with
   * AllowReassignment does (the address never returns to the subnet's free pool).
   */
  moveSecondaryIp(address: string, fromEniId: string, toEniId: string): void {
    const state = this.cloud.stateForImds();
    const from = state.mutableEni(fromEniId);
    const to = state.mutableEni(toEniId);
    if (!from.secondaryIps.includes(address)) throw new Error(`${fromEniId} does not hold ${address}`);
    state.putEni({ ...from, secondaryIps: from.secondaryIps.filter((ip) => ip !== address) });
    state.putEni({ ...to, secondaryIps: [...to.secondaryIps, address] });
  }

  /**
   * Connects the machine's own network namespace to the VPC as its control plane: a veth pair
   * whose machine end gets a VPC address (returned), where kube-apiserver listens
   * (startKubeApiServer({ bindAddress })). Nodes reach it through their default route and the VPC
   * router, as kubelets on EKS reach the cluster endpoint's addresses in the VPC. Connections from
   * the VPC leave the link masqueraded as its VPC end, so the machine needs no route to the VPC
   * (other emulated VPCs on the machine use the same CIDR). One per VPC.
   */
  async connectControlPlane(): Promise<{ address: string }> {
    if (this.controlPlaneIfname !== undefined) throw new Error('the control plane is already connected');
    // The prefix's hex: the machine-side name is unique per VPC and within IFNAMSIZ (15).
    const ifname = `edp${this.prefix.slice('eni-dp-'.length, -1)}cp`;
    const { machine, vpc } = await freeControlPlaneLink();
    await ip([
      'link',
      'add',
      ifname,
      'type',
      'veth',
      'peer',
      'name',
      CONTROL_PLANE_VPC_IFNAME,
      'netns',
      this.vpcNetns,
    ]);
    this.controlPlaneIfname = ifname;
    await ip(['addr', 'add', `${machine}/30`, 'dev', ifname]);
    await ip(['link', 'set', ifname, 'up']);
    await batch(this.vpcNetns, [
      `addr add ${vpc}/30 dev ${CONTROL_PLANE_VPC_IFNAME}`,
      `link set ${CONTROL_PLANE_VPC_IFNAME} up`,
    ]);
    await nft(
      this.vpcNetns,
      `table ip ${FABRIC_TABLE}-cp {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "${CONTROL_PLANE_VPC_IFNAME}" masquerade
  }
}
`,
    );
    return { address: machine };
  }

  /** The ENI link of the node namespace that carries `mac`, or undefined. */
  linkOf(eniId: string): { nodeIfname: string; vpcIfname: string } | undefined {
    const link = this.links.get(eniId);
    return link && { nodeIfname: link.nodeIfname, vpcIfname: link.vpcIfname };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.unsubscribe?.();
    for (const t of this.timers) clearTimeout(t);
    await this.syncing.catch(() => undefined);
    await this.relay?.stop();
    await Promise.allSettled([this.ec2?.close(), ...this.imds.map((s) => s.close())]);
    if (this.controlPlaneIfname !== undefined) {
      await ip(['link', 'delete', this.controlPlaneIfname]).catch(() => undefined);
    }
    for (const netns of [
      ...this.nodes.map((n) => n.netns),
      this.natNetns,
      this.internetNetns,
      this.vpcNetns,
    ]) {
      await ip(['netns', 'delete', netns]).catch(() => undefined);
    }
    await rm(this.socketDir, { recursive: true, force: true });
  }

  private async build(): Promise<void> {
    const [vpc, inet, nat] = [this.vpcNetns, this.internetNetns, this.natNetns];
    for (const netns of [vpc, inet, nat]) {
      await ip(['netns', 'add', netns]);
      await sysctls(netns, {
        'net.ipv6.conf.all.disable_ipv6': '1',
        'net.ipv6.conf.default.disable_ipv6': '1',
        'net.ipv4.ip_forward': '1',
      });
    }
    await ip(['-n', vpc, 'link', 'add', 'igw', 'type', 'veth', 'peer', 'name', 'igw', 'netns', inet]);
    await ip(['-n', vpc, 'link', 'add', 'ngw', 'type', 'veth', 'peer', 'name', 'priv', 'netns', nat]);
    await ip(['-n', nat, 'link', 'add', 'pub', 'type', 'veth', 'peer', 'name', 'ngw', 'netns', inet]);
    await batch(vpc, [
      'link set lo up',
      `addr add ${IMDS_IP}/32 dev lo`,
      `addr add ${EC2_ENDPOINT_IP}/32 dev lo`,
      `addr add ${IGW_VPC_SIDE}/30 dev igw`,
      'link set igw up',
      `addr add ${NATGW_VPC_SIDE}/30 dev ngw`,
      'link set ngw up',
      `route add default via ${IGW_INTERNET_SIDE}`,
    ]);
    await batch(inet, [
      'link set lo up',
      `addr add ${INTERNET_HOST}/32 dev lo`,
      `addr add ${IGW_INTERNET_SIDE}/30 dev igw`,
      'link set igw up',
      `addr add ${NATGW_INTERNET_SIDE}/30 dev ngw`,
      'link set ngw up',
      `route add ${VPC_CIDR} via ${IGW_VPC_SIDE}`,
    ]);
    await batch(nat, [
      'link set lo up',
      `addr add ${NATGW_PRIVATE_IP}/30 dev priv`,
      'link set priv up',
      `addr add ${NATGW_PUBLIC_IP}/30 dev pub`,
      'link set pub up',
      `route add default via ${NATGW_INTERNET_SIDE}`,
      `route add ${VPC_CIDR} via ${NATGW_VPC_SIDE}`,
    ]);
    await nft(
      vpc,
      `table inet ${FABRIC_TABLE} {
  counter srcdst_drops {}
  set eni_sources { type ifname . ipv4_addr; flags interval; }
  chain prerouting {
    type filter hook prerouting priority raw; policy accept;
    iifname "v*" iifname . ip saddr != @eni_sources counter name "srcdst_drops" drop
  }
}
`,
    );
    await nft(
      inet,
      `table inet ${FABRIC_TABLE} {
  counter rejected {}
  set allowed { type ipv4_addr; }
  chain input {
    type filter hook input priority filter; policy accept;
    ip saddr != @allowed counter name "rejected" drop
  }
}
`,
    );
    await nft(
      nat,
      `table ip ${FABRIC_TABLE} {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    oifname "pub" ip saddr ${VPC_CIDR} masquerade
  }
}
`,
    );
    const ec2 = new Ec2HttpServer(this.cloud.endpoint);
    await ec2.startOnPath(join(this.socketDir, 'ec2.sock'));
    this.ec2 = ec2;
    const relay = spawnPeer('vpc relay', 'ip', [
      'netns',
      'exec',
      vpc,
      process.execPath,
      RELAY,
      `tcp:${IMDS_IP}:80=unix:${join(this.socketDir, 'imds-{src}.sock')}`,
      `tcp:${EC2_ENDPOINT_IP}:80=unix:${join(this.socketDir, 'ec2.sock')}`,
    ]);
    this.relay = relay;
    await waitForOutput(relay, 'relay ready');
    this.unsubscribe = this.cloud.stateForImds().onEniChange(() => {
      void this.sync().catch(() => undefined);
    });
  }

  private async syncNow(): Promise<void> {
    const byInstance = new Map(this.nodes.map((n) => [n.instance.instanceId, n]));
    const attached = new Map<string, { eni: EniInspection; node: VpcNode }>();
    const now = Date.now();
    for (const eni of this.cloud.enis()) {
      const a = eni.attachment;
      const node = a === undefined ? undefined : byInstance.get(a.instanceId);
      if (!a || !node) continue;
      // Attach and detach complete on their own later: look again then.
      if (a.status !== 'attached' || a.completesAt > now) this.recheckAt(a.completesAt);
      if (a.status === 'attached') attached.set(eni.eniId, { eni, node });
    }
    const vpcLines: string[] = [];
    for (const [eniId, link] of this.links) {
      if (attached.has(eniId)) continue;
      vpcLines.push(`link del ${link.vpcIfname}`);
      this.links.delete(eniId);
    }
    if (vpcLines.length > 0) await batch(this.vpcNetns, vpcLines);
    for (const { eni, node } of attached.values()) {
      if (!this.links.has(eni.eniId)) await this.connect(eni, node);
    }
    // Routes: every address and prefix of every attached ENI to its link, via the ENI's primary
    // address, whose neighbour entry is the ENI's MAC (the VPC knows it; it does not ARP).
    const wanted = new Map<string, string>();
    const lines: string[] = [];
    const elements: string[] = [];
    for (const { eni } of attached.values()) {
      const link = this.links.get(eni.eniId);
      if (!link) continue;
      const dev = link.vpcIfname;
      wanted.set(`${eni.primaryIp}/32`, dev);
      lines.push(`route replace ${eni.primaryIp}/32 dev ${dev}`);
      for (const dst of [...eni.secondaryIps.map((a) => `${a}/32`), ...eni.prefixes]) {
        wanted.set(dst, dev);
        if (this.routed.get(dst) !== dev)
          lines.push(`route replace ${dst} via ${eni.primaryIp} dev ${dev} onlink`);
      }
      for (const source of [eni.primaryIp, ...eni.secondaryIps, ...eni.prefixes]) {
        elements.push(`"${dev}" . ${source}`);
      }
    }
    for (const dst of this.routed.keys()) if (!wanted.has(dst)) lines.push(`route del ${dst}`);
    if (lines.length > 0) await batch(this.vpcNetns, lines, { force: true });
    this.routed = wanted;
    await nft(
      this.vpcNetns,
      `flush set inet ${FABRIC_TABLE} eni_sources\n${
        elements.length > 0 ? `add element inet ${FABRIC_TABLE} eni_sources { ${elements.join(', ')} }\n` : ''
      }`,
    );
    const allowed = [NATGW_PUBLIC_IP, ...this.nodes.map((n) => n.primaryIp)];
    await nft(
      this.internetNetns,
      `flush set inet ${FABRIC_TABLE} allowed\nadd element inet ${FABRIC_TABLE} allowed { ${allowed.join(', ')} }\n`,
    );
  }

  /** One ENI attached: a veth pair, the node end carrying the ENI's MAC. */
  private async connect(eni: EniInspection, node: VpcNode): Promise<void> {
    const deviceIndex = eni.attachment?.deviceIndex ?? 0;
    const vpcIfname = `v${eni.eniId.slice(-12)}`;
    const nodeIfname = `eth${deviceIndex}`;
    await ip([
      '-n',
      this.vpcNetns,
      'link',
      'add',
      vpcIfname,
      'type',
      'veth',
      'peer',
      'name',
      nodeIfname,
      'address',
      eni.macAddress,
      'netns',
      node.netns,
    ]);
    await sysctls(this.vpcNetns, {
      [`net.ipv4.conf.${vpcIfname}.proxy_arp`]: '1',
      [`net.ipv4.conf.${vpcIfname}.rp_filter`]: '0',
    });
    await batch(this.vpcNetns, [
      // The subnet's router answers on every ENI link.
      `addr add ${VPC_SUBNET_GATEWAY}/32 dev ${vpcIfname}`,
      `link set ${vpcIfname} up`,
      `neigh replace ${eni.primaryIp} lladdr ${eni.macAddress} dev ${vpcIfname} nud permanent`,
    ]);
    if (deviceIndex === 0) {
      // What the instance's OS does at boot with its primary interface (DHCP).
      await batch(node.netns, [
        `link set ${nodeIfname} up`,
        `addr add ${eni.primaryIp}/${SUBNET_PREFIX_LENGTH} dev ${nodeIfname}`,
        `route add default via ${VPC_SUBNET_GATEWAY} dev ${nodeIfname}`,
      ]);
    }
    this.links.set(eni.eniId, {
      eniId: eni.eniId,
      node,
      vpcIfname,
      nodeIfname,
      mac: eni.macAddress,
      primaryIp: eni.primaryIp,
    });
  }

  private recheckAt(at: number): void {
    const timer = setTimeout(
      () => {
        this.timers.delete(timer);
        void this.sync().catch(() => undefined);
      },
      Math.max(0, at - Date.now()) + 5,
    );
    this.timers.add(timer);
  }
}

/**
 * A /30 of CONTROL_PLANE_BLOCK none of whose addresses the machine's namespace has (another VPC's
 * control plane may be connected at the same time): the machine's end and the VPC's.
 */
async function freeControlPlaneLink(): Promise<{ machine: string; vpc: string }> {
  const used = new Set(
    (JSON.parse(await ip(['-j', '-4', 'addr', 'show'])) as { addr_info?: { local: string }[] }[]).flatMap(
      (link) => (link.addr_info ?? []).map((a) => a.local),
    ),
  );
  const start = randomBytes(1)[0] ?? 0;
  for (let i = 0; i < CONTROL_PLANE_BLOCK.links; i++) {
    const base = ((start + i) % CONTROL_PLANE_BLOCK.links) * 4;
    const machine = `${CONTROL_PLANE_BLOCK.prefix}.${base + 1}`;
    const vpc = `${CONTROL_PLANE_BLOCK.prefix}.${base + 2}`;
    if (!used.has(machine) && !used.has(vpc)) return { machine, vpc };
  }
  throw new Error(`no free /30 in ${CONTROL_PLANE_BLOCK.prefix}.0/24 for the control plane's link`);
}

async function ip(args: readonly string[]): Promise<string> {
  try {
    return (await execFileAsync('ip', args)).stdout;
  } catch (err) {
    throw new Error(`ip ${args.join(' ')}: ${(err as { stderr?: string }).stderr ?? (err as Error).message}`);
  }
}

async function batch(
  netns: string,
  lines: readonly string[],
  options: { force?: boolean } = {},
): Promise<void> {
  await run(
    'ip',
    ['-n', netns, ...(options.force === true ? ['-force'] : []), '-batch', '-'],
    lines.join('\n') + '\n',
  );
}

async function nft(netns: string, script: string): Promise<void> {
  await run('ip', ['netns', 'exec', netns, 'nft', '-f', '-'], script);
}

async function sysctls(netns: string, values: Record<string, string>): Promise<void> {
  await run('ip', [
    'netns',
    'exec',
    netns,
    'sysctl',
    '-q',
    '-w',
    ...Object.entries(values).map(([k, v]) => `${k}=${v}`),
  ]);
}

async function counterValue(netns: string, family: string, table: string, counter: string): Promise<number> {
  const out = await run('ip', [
    'netns',
    'exec',
    netns,
    'nft',
    '-j',
    'list',
    'counter',
    family,
    table,
    counter,
  ]);
  const parsed = JSON.parse(out) as { nftables: { counter?: { packets: number } }[] };
  const found = parsed.nftables.find((e) => e.counter !== undefined)?.counter;
  if (!found) throw new Error(`no counter ${counter} in ${family} ${table} of ${netns}`);
  return found.packets;
}

function run(command: string, args: readonly string[], stdin?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, (err, stdout, stderr) => {
      if (err) reject(new Error(`${command} ${args.join(' ')}: ${stderr || err.message}\n${stdin ?? ''}`));
      else resolve(stdout);
    });
    child.stdin?.on('error', () => undefined);
    child.stdin?.end(stdin ?? '');
  });
}

async function waitForOutput(peer: PeerProcess, text: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!peer.output().includes(text)) {
    if (peer.hasExited()) throw new Error(`${peer.name} exited: ${peer.output()}`);
    if (Date.now() > deadline) throw new Error(`${peer.name} did not say "${text}": ${peer.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export { run as runWithInput, waitForOutput };
