import type { Datastore } from '../ipam/datastore.js';
import type { Assignment } from '../ipam/datastore-types.js';
import type { AttachedEni } from '../provider/ec2-network.js';
import type { Logger } from './logger.js';
import { POOL_TAG } from './pool-work.js';

/** ENIs that other software manages carry this tag (the AWS VPC CNI's convention); we leave them alone. */
export const NO_MANAGE_TAG = 'node.k8s.amazonaws.com/no_manage';

export interface SyncReport {
  enisAdded: string[];
  enisRemoved: string[];
  /** Of those, the ENIs that still held pods' addresses (the VPC CNI's "force removed" ENIs). */
  enisRemovedInUse: number;
  addressesAdded: number;
  addressesRemoved: number;
  /** Assignments whose address EC2 no longer has: the pods must be told (they keep a dead address). */
  lost: Assignment[];
}

/**
 * Brings the datastore in line with what EC2 reports as attached. EC2 is the truth for which ENIs
 * and addresses exist; the datastore is the truth for who holds them. ENIs with a mutation under
 * way are skipped: their addresses may be half-added or half-removed on purpose.
 */
export function syncWithEc2(
  datastore: Datastore,
  attached: readonly AttachedEni[],
  options: { busy: ReadonlySet<string>; logger: Logger; primaryEniId?: string },
): SyncReport {
  const report: SyncReport = {
    enisAdded: [],
    enisRemoved: [],
    enisRemovedInUse: 0,
    addressesAdded: 0,
    addressesRemoved: 0,
    lost: [],
  };
  const managed = attached.filter((eni) => eni.tags[NO_MANAGE_TAG] !== 'true');
  const seen = new Set(managed.map((eni) => eni.eniId));

  // Removals first, on every ENI: an address EC2 moved from one ENI to another is then free to
  // join its new ENI in the second pass, instead of being refused as held by the old one.
  for (const eni of managed) {
    const current = options.busy.has(eni.eniId) ? undefined : datastore.sourcesOf(eni.eniId);
    if (!current) continue;
    const result = datastore.reconcileEni(eni.eniId, {
      ips: eni.secondaryIps.filter((ip) => current.ips.includes(ip)),
      prefixes: eni.prefixes.filter((p) => current.prefixes.includes(p)),
    });
    report.addressesRemoved += result.removed.length;
    report.lost.push(...result.lostWhileAssigned);
  }

  for (const eni of datastore.enis()) {
    if (seen.has(eni.id) || options.busy.has(eni.id)) continue;
    const removed = datastore.removeEni(eni.id, { evenIfInUse: true });
    if (removed.type === 'removed') {
      report.enisRemoved.push(eni.id);
      if (removed.lost.length > 0) report.enisRemovedInUse += 1;
      report.lost.push(...removed.lost);
    }
  }

  for (const eni of managed) {
    if (options.busy.has(eni.eniId)) continue;
    if (!datastore.eni(eni.eniId)) {
      const pool = eni.tags[POOL_TAG];
      datastore.addEni({
        id: eni.eniId,
        subnetId: eni.subnetId,
        subnetCidr: eni.subnetCidr,
        deviceIndex: eni.deviceIndex,
        primary: eni.primary,
        ...(pool === undefined ? {} : { pool }),
      });
      report.enisAdded.push(eni.eniId);
    }
    const result = datastore.reconcileEni(eni.eniId, { ips: eni.secondaryIps, prefixes: eni.prefixes });
    report.addressesAdded += result.added.length;
    report.addressesRemoved += result.removed.length;
    report.lost.push(...result.lostWhileAssigned);
    if (result.refused.length > 0) {
      options.logger.warn(
        { eniId: eni.eniId, refused: result.refused },
        'EC2 reports addresses the datastore cannot take',
      );
    }
  }

  for (const lost of report.lost) {
    options.logger.error(
      { address: lost.address, eniId: lost.eniId, pod: `${lost.pod.namespace}/${lost.pod.name}` },
      'EC2 no longer has an address a pod holds; the pod must be recreated to get a working address',
    );
  }
  return report;
}
