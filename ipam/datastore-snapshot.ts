import { z } from 'zod';
import { Datastore } from './datastore.js';
import { SnapshotError } from './errors.js';
import type { EniInfo } from './datastore-types.js';

/**
 * The datastore as versioned JSON, for the agent's checkpoint. A reader accepts exactly the versions
 * it knows and rejects the rest with a SnapshotError that says what it found and what it supports,
 * so a downgraded agent never misreads a newer checkpoint. Restore re-checks every invariant (an
 * address on one ENI only, inside its subnet, one address per key) by rebuilding through the
 * datastore's own operations.
 */

export const SNAPSHOT_VERSION = 1;

const nonEmpty = z.string().min(1);
const time = z.number().int().nonnegative();

const podSchema = z.object({ uid: nonEmpty, namespace: nonEmpty, name: nonEmpty });
const ownerSchema = z.object({ kind: nonEmpty, namespace: nonEmpty, name: nonEmpty, uid: nonEmpty });

const snapshotV1Schema = z.object({
  version: z.literal(1),
  enis: z.array(
    z.object({
      id: nonEmpty,
      subnetId: nonEmpty,
      subnetCidr: nonEmpty,
      deviceIndex: z.number().int().nonnegative(),
      primary: z.boolean(),
      pool: nonEmpty.optional(),
      ips: z.array(nonEmpty),
      prefixes: z.array(nonEmpty),
    }),
  ),
  assigned: z.array(
    z.object({
      address: nonEmpty,
      containerId: nonEmpty,
      ifName: nonEmpty,
      pod: podSchema,
      owner: ownerSchema.optional(),
      assignedAt: time,
    }),
  ),
  cooling: z.array(z.object({ address: nonEmpty, until: time })),
});

export type DatastoreSnapshotV1 = z.infer<typeof snapshotV1Schema>;

export function snapshotDatastore(datastore: Datastore): DatastoreSnapshotV1 {
  const enis = datastore.enis().map((info) => {
    const sources = datastore.sourcesOf(info.id) ?? { ips: [], prefixes: [] };
    return { ...info, ...sources };
  });
  const assigned = datastore.assignments().map((a) => ({
    address: a.address,
    containerId: a.key.containerId,
    ifName: a.key.ifName,
    pod: { ...a.pod },
    ...(a.owner ? { owner: { ...a.owner } } : {}),
    assignedAt: a.assignedAt,
  }));
  const cooling = datastore
    .addressRecords()
    .flatMap((r) => (r.state.type === 'cooling' ? [{ address: r.address, until: r.state.until }] : []));
  return { version: SNAPSHOT_VERSION, enis, assigned, cooling };
}

/** Rebuilds a datastore from a parsed snapshot, or throws a SnapshotError. */
export function restoreDatastore(snapshot: unknown): Datastore {
  checkVersion(snapshot);
  const result = snapshotV1Schema.safeParse(snapshot);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new SnapshotError(
      'ERR_SNAPSHOT_MALFORMED',
      `datastore snapshot version 1 is malformed: ${issues.join('; ')}`,
    );
  }
  return rebuild(result.data);
}

function checkVersion(snapshot: unknown): void {
  const supported = `this eni-ipam reads version ${SNAPSHOT_VERSION}`;
  if (typeof snapshot !== 'object' || snapshot === null || Array.isArray(snapshot)) {
    throw new SnapshotError(
      'ERR_SNAPSHOT_MALFORMED',
      `datastore snapshot is not a JSON object; ${supported}`,
    );
  }
  const version: unknown = (snapshot as { version?: unknown }).version;
  if (version === SNAPSHOT_VERSION) return;
  if (typeof version === 'number' && Number.isInteger(version) && version > SNAPSHOT_VERSION) {
    throw new SnapshotError(
      'ERR_SNAPSHOT_UNSUPPORTED_VERSION',
      `datastore snapshot version ${version} is newer than ${supported} (written by a later eni-ipam?)`,
    );
  }
  const found = version === undefined ? 'no "version" field' : `version ${JSON.stringify(version)}`;
  throw new SnapshotError(
    'ERR_SNAPSHOT_UNSUPPORTED_VERSION',
    `datastore snapshot has ${found}; ${supported}`,
  );
}

function rebuild(snapshot: DatastoreSnapshotV1): Datastore {
  const datastore = new Datastore();
  const inconsistent = (message: string): SnapshotError =>
    new SnapshotError('ERR_SNAPSHOT_INCONSISTENT', `datastore snapshot: ${message}`);
  const deviceIndexes = new Map<number, string>();
  for (const eni of snapshot.enis) {
    const info: EniInfo = {
      id: eni.id,
      subnetId: eni.subnetId,
      subnetCidr: eni.subnetCidr,
      deviceIndex: eni.deviceIndex,
      primary: eni.primary,
      ...(eni.pool === undefined ? {} : { pool: eni.pool }),
    };
    const sameIndex = deviceIndexes.get(eni.deviceIndex);
    if (sameIndex !== undefined)
      throw inconsistent(`${sameIndex} and ${eni.id} share device index ${eni.deviceIndex}`);
    deviceIndexes.set(eni.deviceIndex, eni.id);
    let added;
    try {
      added = datastore.addEni(info);
    } catch (error) {
      throw inconsistent(`ENI ${eni.id}: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (added.type === 'exists') throw inconsistent(`ENI ${eni.id} appears twice`);
    const refused = [
      ...datastore.addIps(eni.id, eni.ips).refused,
      ...datastore.addPrefixes(eni.id, eni.prefixes).refused,
    ];
    const first = refused[0];
    if (first)
      throw inconsistent(
        `ENI ${eni.id}: ${first.entry} refused (${first.reason}${first.detail ? `: ${first.detail}` : ''})`,
      );
  }
  const restore = (address: string, apply: () => void): void => {
    try {
      apply();
    } catch (error) {
      throw inconsistent(`${address}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  for (const a of snapshot.assigned) {
    restore(a.address, () => {
      datastore.restoreAddressState(a.address, {
        type: 'assigned',
        key: { containerId: a.containerId, ifName: a.ifName },
        pod: a.pod,
        ...(a.owner ? { owner: a.owner } : {}),
        assignedAt: a.assignedAt,
      });
    });
  }
  for (const c of snapshot.cooling) {
    restore(c.address, () => {
      datastore.restoreAddressState(c.address, { type: 'cooling', until: c.until });
    });
  }
  return datastore;
}
