/** Datastore operations only tests need, built on its public API. */
import { restoreDatastore, snapshotDatastore } from '../../../ipam/datastore-snapshot.js';
import type { Datastore } from '../../../ipam/datastore.js';
import type { Assignment } from '../../../ipam/datastore-types.js';
import { SnapshotError } from '../../../ipam/errors.js';

function releaseWhere(
  ds: Datastore,
  match: (a: Assignment) => boolean,
  now: number,
  cooldownMs: number,
): Assignment[] {
  const released: Assignment[] = [];
  for (const assignment of ds.assignments().filter(match)) {
    const result = ds.release(assignment.key, now, cooldownMs);
    if (result.type === 'released') released.push(result.assignment);
  }
  return released;
}

/** Releases every address of a pod (all its interfaces). */
export function releasePod(ds: Datastore, podUid: string, now: number, cooldownMs: number): Assignment[] {
  return releaseWhere(ds, (a) => a.pod.uid === podUid, now, cooldownMs);
}

/** Releases every address whose owner (e.g. a VirtualMachine) has this uid. */
export function releaseOwner(ds: Datastore, ownerUid: string, now: number, cooldownMs: number): Assignment[] {
  return releaseWhere(ds, (a) => a.owner?.uid === ownerUid, now, cooldownMs);
}

export function datastoreToJson(datastore: Datastore): string {
  return JSON.stringify(snapshotDatastore(datastore));
}

/** Parses snapshot text; broken JSON is a SnapshotError('ERR_SNAPSHOT_MALFORMED'). */
export function datastoreFromJson(text: string): Datastore {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new SnapshotError('ERR_SNAPSHOT_MALFORMED', `datastore snapshot is not JSON: ${reason}`);
  }
  return restoreDatastore(parsed);
}
