import { z } from 'zod';
import { Datastore } from './datastore.js';
import { SnapshotError } from './errors.js';
import type { AddressState, EniInfo } from './datastore-types.js';

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

// A pod uid may be empty (runtimes that pass none; the leak check then matches by name), and so may
// a VM owner's (the VM was not yet listed): whatever the agent accepts at ADD, the checkpoint stores.
const podSchema = z.object({ uid: z.string(), namespace: nonEmpty, name: nonEmpty });
const ownerSchema = z.object({ kind: nonEmpty, namespace: nonEmpty, name: nonEmpty, uid: z.string() });

const eniEntrySchema = z.object({
  id: nonEmpty,
  subnetId: nonEmpty,
  subnetCidr: nonEmpty,
  deviceIndex: z.number().int().nonnegative(),
  primary: z.boolean(),
  pool: nonEmpty.optional(),
  ips: z.array(nonEmpty),
  prefixes: z.array(nonEmpty),
});
const assignedEntrySchema = z.object({
  address: nonEmpty,
  containerId: nonEmpty,
  ifName: nonEmpty,
  pod: podSchema,
  owner: ownerSchema.optional(),
  network: nonEmpty.optional(),
  assignedAt: time,
});
const coolingEntrySchema = z.object({ address: nonEmpty, until: time });

/**
 * One change of an address's state after a snapshot was written, as the checkpoint appends it: the
 * address is now assigned (the snapshot's assigned entry), cooling, or available.
 */
const changeRecordSchemas = {
  assigned: z.object({ assigned: assignedEntrySchema }).strict(),
  cooling: z.object({ cooling: coolingEntrySchema }).strict(),
  available: z.object({ available: nonEmpty }).strict(),
};
export type ChangeRecord = z.infer<(typeof changeRecordSchemas)[keyof typeof changeRecordSchemas]>;

const unknownChangeSchema = z.custom<ChangeRecord>(() => false, {
  message: 'expected an object of one state: "assigned", "cooling" or "available"',
});

/**
 * A change record checked against the schema of the state it names, so that a bad one is reported
 * by what is wrong in it (a union's own error says only "Invalid input").
 */
function parseChange(record: unknown): z.ZodSafeParseResult<ChangeRecord> {
  const kind =
    typeof record === 'object' && record !== null
      ? (['assigned', 'cooling', 'available'] as const).find((k) => k in record)
      : undefined;
  return (kind === undefined ? unknownChangeSchema : changeRecordSchemas[kind]).safeParse(record);
}

const snapshotV1Schema = z.object({
  version: z.literal(1),
  enis: z.array(eniEntrySchema),
  assigned: z.array(assignedEntrySchema),
  cooling: z.array(coolingEntrySchema),
});

export type DatastoreSnapshotV1 = z.infer<typeof snapshotV1Schema>;

export function snapshotDatastore(datastore: Datastore): DatastoreSnapshotV1 {
  const assigned: AssignedEntry[] = [];
  const cooling: CoolingEntry[] = [];
  for (const r of datastore.addressRecords()) {
    if (r.state.type === 'assigned') assigned.push(assignedEntry(r.address, r.state));
    else if (r.state.type === 'cooling') cooling.push({ address: r.address, until: r.state.until });
  }
  return { version: SNAPSHOT_VERSION, enis: eniEntries(datastore), assigned, cooling };
}

type AssignedEntry = DatastoreSnapshotV1['assigned'][number];
type CoolingEntry = DatastoreSnapshotV1['cooling'][number];

function eniEntries(datastore: Datastore): DatastoreSnapshotV1['enis'] {
  return datastore.enis().map((info) => {
    const sources = datastore.sourcesOf(info.id) ?? { ips: [], prefixes: [] };
    return { ...info, ...sources };
  });
}

function assignedEntry(address: string, state: Extract<AddressState, { type: 'assigned' }>): AssignedEntry {
  return {
    address,
    containerId: state.key.containerId,
    ifName: state.key.ifName,
    pod: { ...state.pod },
    ...(state.owner ? { owner: { ...state.owner } } : {}),
    ...(state.network === undefined ? {} : { network: state.network }),
    assignedAt: state.assignedAt,
  };
}

/**
 * The snapshot as JSON text, exactly `JSON.stringify(snapshotDatastore(datastore))`, for a
 * datastore that is written again after every change (the agent's checkpoint, once per group of
 * ADDs and DELs): the UTF-8 text of each assignment is made once and reused while it stands, and
 * the text is handed out as chunks (written with one writev), so a write neither serialises every
 * pod of the node again nor copies their text into one string.
 */
export class SnapshotText {
  private static readonly encoder = new TextEncoder();
  private static readonly comma = SnapshotText.encoder.encode(',');
  private static readonly assignedOpen = SnapshotText.encoder.encode('{"assigned":');
  private static readonly recordClose = SnapshotText.encoder.encode('}\n');
  /** An address's state object is replaced, never changed, when the address changes hands. */
  private readonly assignedText = new WeakMap<AddressState, { address: string; bytes: Uint8Array }>();

  /**
   * The text as UTF-8 chunks, in order, appended to `into` (a caller that frames the text adds its
   * own chunks around it without copying the list: this runs at every checkpoint write).
   */
  chunks(datastore: Datastore, into: Uint8Array[] = []): Uint8Array[] {
    // What follows is the whole state: the changes after it are counted from here.
    datastore.markChanges();
    const enis = JSON.stringify(eniEntries(datastore));
    into.push(SnapshotText.encoder.encode(`{"version":${SNAPSHOT_VERSION},"enis":${enis},"assigned":[`));
    let first = true;
    const cooling: CoolingEntry[] = [];
    datastore.forEachAddress((address, state) => {
      if (state.type === 'assigned') {
        if (!first) into.push(SnapshotText.comma);
        into.push(this.assignedBytes(address, state));
        first = false;
      } else if (state.type === 'cooling') {
        cooling.push({ address, until: state.until });
      }
    });
    into.push(SnapshotText.encoder.encode(`],"cooling":${JSON.stringify(cooling)}}`));
    return into;
  }

  /**
   * The address states changed since the last chunks() or changeChunks(), as change records (one
   * line of JSON each, ending in a newline; see ChangeRecord), appended to `into`; undefined when an
   * ENI or an address came or went since, which only the whole text can say. A burst of ADDs is so
   * written as a few hundred bytes per pod instead of the whole node's text each time.
   */
  changeChunks(datastore: Datastore, into: Uint8Array[] = []): Uint8Array[] | undefined {
    const changed = datastore.changesSinceMark();
    if (!changed) return undefined;
    changed.forEach((address) => {
      const state = datastore.stateOf(address);
      if (state?.type === 'assigned') {
        into.push(SnapshotText.assignedOpen, this.assignedBytes(address, state), SnapshotText.recordClose);
      } else {
        const record: ChangeRecord =
          state?.type === 'cooling' ? { cooling: { address, until: state.until } } : { available: address };
        into.push(SnapshotText.encoder.encode(`${JSON.stringify(record)}\n`));
      }
    });
    datastore.markChanges();
    return into;
  }

  /** An assignment's UTF-8 text, made once while it stands (its state object is never changed). */
  private assignedBytes(address: string, state: Extract<AddressState, { type: 'assigned' }>): Uint8Array {
    let cached = this.assignedText.get(state);
    if (cached?.address !== address) {
      const text = JSON.stringify(assignedEntry(address, state));
      cached = { address, bytes: SnapshotText.encoder.encode(text) };
      this.assignedText.set(state, cached);
    }
    return cached.bytes;
  }

  /** The same text as one string. */
  of(datastore: Datastore): string {
    const chunks = this.chunks(datastore);
    const all = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
    let at = 0;
    for (const chunk of chunks) {
      all.set(chunk, at);
      at += chunk.byteLength;
    }
    return new TextDecoder().decode(all);
  }
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

/** An entry of a snapshot that restore left out, and why. */
export interface DroppedEntry {
  /** e.g. "assigned[3]". */
  readonly entry: string;
  /** The entry's address (or ENI id) when it could be read: its holder is then unknown. */
  readonly address: string | undefined;
  readonly reason: string;
}

/**
 * Like restoreDatastore, but an entry that cannot be read or does not fit the others costs that
 * entry, never the whole snapshot: the agent must not forget every pod's address because one
 * record is bad. Only a snapshot of another version, or one that is not an object with the three
 * lists, is refused (a SnapshotError).
 */
export function salvageDatastore(
  snapshot: unknown,
  changes: readonly unknown[] = [],
): { datastore: Datastore; dropped: DroppedEntry[] } {
  checkVersion(snapshot);
  const raw = snapshot as Record<string, unknown>;
  const dropped: DroppedEntry[] = [];
  const lists = { enis: raw['enis'], assigned: raw['assigned'], cooling: raw['cooling'] };
  for (const [name, value] of Object.entries(lists)) {
    if (!Array.isArray(value)) {
      throw new SnapshotError(
        'ERR_SNAPSHOT_MALFORMED',
        `datastore snapshot version 1 is malformed: ${name} is not a list`,
      );
    }
  }
  const current = withChanges(lists.assigned as unknown[], lists.cooling as unknown[], changes, dropped);
  // Each entry keeps the name of where it was read: after one is left out, or once change records
  // are applied, its place in a list no longer says it.
  const keep = <T>(items: readonly Sourced[], schema: z.ZodType<T>): { entry: string; value: T }[] =>
    items.flatMap(({ entry, item }) => {
      const parsed = schema.safeParse(item);
      if (parsed.success) return [{ entry, value: parsed.data }];
      const issues = parsed.error.issues.map((x) => `${x.path.join('.') || '(entry)'}: ${x.message}`);
      dropped.push({ entry, address: addressOf(item), reason: issues.join('; ') });
      return [];
    });
  const enis = keep(sourced('enis', lists.enis as unknown[]), eniEntrySchema);
  const assigned = keep(current.assigned, assignedEntrySchema);
  const cooling = keep(current.cooling, coolingEntrySchema);
  const valid: DatastoreSnapshotV1 = {
    version: 1,
    enis: enis.map((e) => e.value),
    assigned: assigned.map((e) => e.value),
    cooling: cooling.map((e) => e.value),
  };
  const names = {
    enis: enis.map((e) => e.entry),
    assigned: assigned.map((e) => e.entry),
    cooling: cooling.map((e) => e.entry),
  };
  const datastore = rebuildWith(
    valid,
    (entry, address, reason) => {
      dropped.push({ entry, address, reason });
    },
    names,
  );
  return { datastore, dropped };
}

/** An entry as read, with where it was read: "assigned[3]" of the snapshot, or "changes[7]". */
interface Sourced {
  readonly entry: string;
  readonly item: unknown;
}

function sourced(name: string, items: readonly unknown[]): Sourced[] {
  return items.map((item, i) => ({ entry: `${name}[${i}]`, item }));
}

/**
 * The snapshot's assigned and cooling entries with the change records written after it applied in
 * order: each record sets its address's state. A record that cannot be read is dropped, and so is
 * what the snapshot said of its address (when the record names one): that address's holder is
 * unknown, so it must not come back as anyone's.
 */
function withChanges(
  assigned: unknown[],
  cooling: unknown[],
  changes: readonly unknown[],
  dropped: DroppedEntry[],
): { assigned: Sourced[]; cooling: Sourced[] } {
  if (changes.length === 0)
    return { assigned: sourced('assigned', assigned), cooling: sourced('cooling', cooling) };
  // Entries without a readable address, or repeating one, go on as they are: validation reports them.
  const unkeyed = { assigned: [] as Sourced[], cooling: [] as Sourced[] };
  const byAddress = new Map<string, { list: 'assigned' | 'cooling'; item: Sourced }>();
  const index = (list: 'assigned' | 'cooling', items: unknown[]): void => {
    sourced(list, items).forEach((item) => {
      const address = addressOf(item.item);
      if (address === undefined || byAddress.has(address)) unkeyed[list].push(item);
      else byAddress.set(address, { list, item });
    });
  };
  index('assigned', assigned);
  index('cooling', cooling);
  changes.forEach((record, i) => {
    const parsed = parseChange(record);
    if (!parsed.success) {
      const address = changedAddressOf(record);
      if (address !== undefined) byAddress.delete(address);
      const issues = parsed.error.issues.map((x) => `${x.path.join('.') || '(record)'}: ${x.message}`);
      dropped.push({
        entry: `changes[${i}]`,
        address,
        reason: record === undefined ? 'not JSON' : issues.join('; '),
      });
      return;
    }
    const change = parsed.data;
    if ('assigned' in change) {
      byAddress.delete(change.assigned.address);
      byAddress.set(change.assigned.address, {
        list: 'assigned',
        item: { entry: `changes[${i}]`, item: change.assigned },
      });
    } else if ('cooling' in change) {
      byAddress.delete(change.cooling.address);
      byAddress.set(change.cooling.address, {
        list: 'cooling',
        item: { entry: `changes[${i}]`, item: change.cooling },
      });
    } else {
      byAddress.delete(change.available);
    }
  });
  byAddress.forEach(({ list, item }) => unkeyed[list].push(item));
  return unkeyed;
}

/** The address a change record names, when it can be read. */
function changedAddressOf(record: unknown): string | undefined {
  if (typeof record !== 'object' || record === null) return undefined;
  const o = record as Record<string, unknown>;
  if (typeof o['available'] === 'string' && o['available'] !== '') return o['available'];
  return addressOf(o['assigned']) ?? addressOf(o['cooling']);
}

function addressOf(item: unknown): string | undefined {
  if (typeof item !== 'object' || item === null) return undefined;
  const o = item as Record<string, unknown>;
  const value = o['address'] ?? o['id'];
  return typeof value === 'string' && value !== '' ? value : undefined;
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
  return rebuildWith(snapshot, (_entry, _address, reason) => {
    throw new SnapshotError('ERR_SNAPSHOT_INCONSISTENT', `datastore snapshot: ${reason}`);
  });
}

/**
 * Rebuilds through the datastore's own operations; `bad` hears of each entry that does not fit, by
 * its name in `names` (by its place in the snapshot's lists when none is given).
 */
function rebuildWith(
  snapshot: DatastoreSnapshotV1,
  bad: (entry: string, address: string | undefined, reason: string) => void,
  names?: Readonly<Record<'enis' | 'assigned' | 'cooling', readonly string[]>>,
): Datastore {
  const nameOf = (list: 'enis' | 'assigned' | 'cooling', i: number): string =>
    names?.[list][i] ?? `${list}[${i}]`;
  const datastore = new Datastore();
  const deviceIndexes = new Map<number, string>();
  for (const [i, eni] of snapshot.enis.entries()) {
    const entry = nameOf('enis', i);
    const info: EniInfo = {
      id: eni.id,
      subnetId: eni.subnetId,
      subnetCidr: eni.subnetCidr,
      deviceIndex: eni.deviceIndex,
      primary: eni.primary,
      ...(eni.pool === undefined ? {} : { pool: eni.pool }),
    };
    const sameIndex = deviceIndexes.get(eni.deviceIndex);
    if (sameIndex !== undefined) {
      bad(entry, eni.id, `${sameIndex} and ${eni.id} share device index ${eni.deviceIndex}`);
      continue;
    }
    let added;
    try {
      added = datastore.addEni(info);
    } catch (error) {
      bad(entry, eni.id, `ENI ${eni.id}: ${error instanceof Error ? error.message : String(error)}`);
      continue;
    }
    if (added.type === 'exists') {
      bad(entry, eni.id, `ENI ${eni.id} appears twice`);
      continue;
    }
    deviceIndexes.set(eni.deviceIndex, eni.id);
    const refused = [
      ...datastore.addIps(eni.id, eni.ips).refused,
      ...datastore.addPrefixes(eni.id, eni.prefixes).refused,
    ];
    for (const r of refused)
      bad(
        entry,
        r.entry,
        `ENI ${eni.id}: ${r.entry} refused (${r.reason}${r.detail ? `: ${r.detail}` : ''})`,
      );
  }
  const restore = (entry: string, address: string, apply: () => void): void => {
    try {
      apply();
    } catch (error) {
      bad(entry, address, `${address}: ${error instanceof Error ? error.message : String(error)}`);
    }
  };
  for (const [i, a] of snapshot.assigned.entries()) {
    restore(nameOf('assigned', i), a.address, () => {
      datastore.restoreAddressState(a.address, {
        type: 'assigned',
        key: { containerId: a.containerId, ifName: a.ifName },
        pod: a.pod,
        ...(a.owner ? { owner: a.owner } : {}),
        ...(a.network === undefined ? {} : { network: a.network }),
        assignedAt: a.assignedAt,
      });
    });
  }
  for (const [i, c] of snapshot.cooling.entries()) {
    restore(nameOf('cooling', i), c.address, () => {
      datastore.restoreAddressState(c.address, { type: 'cooling', until: c.until });
    });
  }
  return datastore;
}
