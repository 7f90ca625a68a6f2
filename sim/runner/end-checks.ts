/**
 * The checks at the end of a run, against the simulated EC2 itself (its current truth, not the
 * lagging Describe view): what each node's datastore believes is compared with what EC2 has on
 * that node's ENIs, with ipam/accounting.ts's distinct-set comparison.
 */
import { compareAddressSources } from '../../ipam/accounting.js';
import type { Datastore } from '../../ipam/datastore.js';
import { restoreDatastore } from '../../ipam/datastore-snapshot.js';
import type { EniInspection, SimulatedCloud } from '../cloud.js';
import type { PodRecord } from './container-runtime.js';
import type { EndChecks, NodeReport } from './report.js';
import type { SimNode } from './sim-node.js';

export interface EndState {
  end: EndChecks;
  nodes: NodeReport[];
  /** Pods that got an address and are not deleted, but whose node no longer has it assigned to them. */
  podsThatLostTheirAddress: string[];
}

/**
 * The datastore that knows the node's addresses: the running agent's, or, when no agent runs (it
 * was killed and not restarted), the checkpoint on the node's disk, which the next process loads.
 */
export async function datastoreOf(node: SimNode): Promise<Datastore | undefined> {
  const process = node.process;
  if (process) {
    try {
      return process.agent.view().datastore;
    } catch {
      // Not started yet: fall back to the disk.
    }
  }
  const read = await node.disk.checkpoint.load();
  if (read.kind !== 'loaded') return undefined;
  return restoreDatastore((read.data as { datastore?: unknown } | null)?.datastore);
}

export async function endChecks(
  cloud: SimulatedCloud,
  nodes: readonly SimNode[],
  pods: readonly PodRecord[],
): Promise<EndState> {
  const known: KnownNode[] = [];
  for (const node of nodes)
    known.push({ name: node.name, instanceId: node.instanceId, datastore: await datastoreOf(node) });
  return endChecksOf(cloud, known, pods);
}

/** A node as the end checks see it: its instance and the datastore that knows its addresses. */
export interface KnownNode {
  name: string;
  instanceId: string;
  datastore: Datastore | undefined;
}

/** The end checks over datastores already at hand (the benchmarks' nodes have no disk to read). */
export function endChecksOf(
  cloud: SimulatedCloud,
  nodes: readonly KnownNode[],
  pods: readonly PodRecord[],
): EndState {
  const enis = cloud.enis();
  const enisByInstance = new Map<string, EniInspection[]>();
  for (const eni of enis) {
    const instanceId = eni.attachment?.instanceId;
    if (instanceId === undefined) continue;
    enisByInstance.set(instanceId, [...(enisByInstance.get(instanceId) ?? []), eni]);
  }
  let leakedAddresses = 0;
  let accountingMismatches = 0;
  const nodeReports: NodeReport[] = [];
  // address -> pod uids holding it, across every datastore of the cluster
  const holders = new Map<string, Set<string>>();
  const datastores = new Map<string, Datastore | undefined>();
  for (const node of nodes) {
    const datastore = node.datastore;
    datastores.set(node.name, datastore);
    const atEc2 = enisByInstance.get(node.instanceId) ?? [];
    const known = datastore?.enis() ?? [];
    const ec2Entries = atEc2.flatMap((e) => [...e.secondaryIps, ...e.prefixes]);
    const storeEntries = known.flatMap((e) => {
      const sources = datastore?.sourcesOf(e.id);
      return sources ? [...sources.ips, ...sources.prefixes] : [];
    });
    const comparison = compareAddressSources({ ec2: ec2Entries, datastore: storeEntries });
    const [ec2Side, storeSide] = comparison.sources;
    leakedAddresses += storeSide?.missing.length ?? 0;
    accountingMismatches += ec2Side?.missing.length ?? 0;
    const ec2EniIds = new Set(atEc2.map((e) => e.eniId));
    const storeEniIds = new Set(known.map((e) => e.id));
    accountingMismatches += [...ec2EniIds].filter((id) => !storeEniIds.has(id)).length;
    accountingMismatches += [...storeEniIds].filter((id) => !ec2EniIds.has(id)).length;
    for (const a of datastore?.assignments() ?? []) {
      const set = holders.get(a.address) ?? new Set<string>();
      set.add(a.pod.uid === '' ? `${a.key.containerId}/${a.key.ifName}` : a.pod.uid);
      holders.set(a.address, set);
    }
    const totals = datastore?.totals();
    nodeReports.push({
      name: node.name,
      enis: known.length,
      addresses: totals?.total ?? 0,
      assigned: totals?.assigned ?? 0,
    });
  }
  // What the runtime was told: two live pods given one address is a double assignment even if
  // every datastore has since forgotten one of them.
  const told = new Map<string, Set<string>>();
  const lost: string[] = [];
  for (const pod of pods) {
    if (pod.deleted || pod.address === undefined || pod.containerId === undefined) continue;
    const set = told.get(pod.address) ?? new Set<string>();
    set.add(pod.uid);
    told.set(pod.address, set);
    const held = datastores.get(pod.node)?.assignmentOf({ containerId: pod.containerId, ifName: 'eth0' });
    if (held?.address !== pod.address) lost.push(`${pod.namespace}/${pod.name}`);
  }
  const doubled = new Set<string>();
  for (const [address, set] of [...holders, ...told]) if (set.size > 1) doubled.add(address);
  return {
    end: {
      leakedAddresses,
      leakedEnis: enis.filter((e) => e.status === 'available').length,
      doubleAssignments: doubled.size,
      accountingMismatches,
    },
    nodes: nodeReports,
    podsThatLostTheirAddress: lost,
  };
}
