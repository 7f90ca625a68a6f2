/**
 * Protobuf encoding and decoding of the few CRI RuntimeService messages eni-ipam uses
 * (agent/runtime/runtime-v1-subset.proto, with the CRI's field numbers). Written by hand rather
 * than generated: four messages do not justify loading a protobuf library into the agent, and
 * every field not listed is skipped by its wire type, as protobuf requires. Input is the
 * runtime's: a malformed message is a CriDecodeError, never a crash.
 */

export class CriDecodeError extends Error {
  constructor(what: string) {
    super(`malformed CRI message: ${what}`);
    this.name = 'CriDecodeError';
  }
}

/** PodSandboxState.SANDBOX_READY (the proto3 default, so an absent state means READY). */
export const SANDBOX_READY = 0;

export interface SandboxMetadata {
  readonly name: string;
  readonly uid: string;
  readonly namespace: string;
}

export interface ListedSandbox {
  readonly id: string;
  readonly metadata: SandboxMetadata | undefined;
  readonly state: number;
}

export interface SandboxStatus {
  readonly id: string;
  readonly metadata: SandboxMetadata | undefined;
  readonly state: number;
  /** network.ip first, then each additional_ips[].ip; empty strings left out. */
  readonly ips: readonly string[];
}

/** ListPodSandboxRequest{filter: {state: {state: SANDBOX_READY}}}: only READY sandboxes. */
export function encodeListReadySandboxes(): Buffer {
  const stateValue = Buffer.alloc(0); // PodSandboxStateValue{state: READY}: the default, no bytes.
  const filter = lengthDelimited(2, stateValue); // PodSandboxFilter.state = 2
  return lengthDelimited(1, filter); // ListPodSandboxRequest.filter = 1
}

/** PodSandboxStatusRequest{pod_sandbox_id: id} (verbose stays false: the info map is not needed). */
export function encodePodSandboxStatusRequest(sandboxId: string): Buffer {
  return lengthDelimited(1, Buffer.from(sandboxId, 'utf8'));
}

export function decodeListPodSandboxResponse(buf: Buffer): ListedSandbox[] {
  const items: ListedSandbox[] = [];
  for (const f of fields(buf)) if (f.field === 1) items.push(decodePodSandbox(bytesOf(f, 'items')));
  return items;
}

/** The status of a PodSandboxStatusResponse; undefined when the response carries none. */
export function decodePodSandboxStatusResponse(buf: Buffer): SandboxStatus | undefined {
  let status: SandboxStatus | undefined;
  for (const f of fields(buf)) if (f.field === 1) status = decodePodSandboxStatus(bytesOf(f, 'status'));
  return status;
}

function decodePodSandbox(buf: Buffer): ListedSandbox {
  let id = '';
  let metadata: SandboxMetadata | undefined;
  let state = SANDBOX_READY;
  for (const f of fields(buf)) {
    if (f.field === 1) id = stringOf(f, 'PodSandbox.id');
    else if (f.field === 2) metadata = decodeMetadata(bytesOf(f, 'PodSandbox.metadata'));
    else if (f.field === 3) state = varintOf(f, 'PodSandbox.state');
  }
  return { id, metadata, state };
}

function decodePodSandboxStatus(buf: Buffer): SandboxStatus {
  let id = '';
  let metadata: SandboxMetadata | undefined;
  let state = SANDBOX_READY;
  let ips: string[] = [];
  for (const f of fields(buf)) {
    if (f.field === 1) id = stringOf(f, 'PodSandboxStatus.id');
    else if (f.field === 2) metadata = decodeMetadata(bytesOf(f, 'PodSandboxStatus.metadata'));
    else if (f.field === 3) state = varintOf(f, 'PodSandboxStatus.state');
    else if (f.field === 5) ips = decodeNetwork(bytesOf(f, 'PodSandboxStatus.network'));
  }
  return { id, metadata, state, ips };
}

function decodeNetwork(buf: Buffer): string[] {
  let ip = '';
  const additional: string[] = [];
  for (const f of fields(buf)) {
    if (f.field === 1) ip = stringOf(f, 'PodSandboxNetworkStatus.ip');
    else if (f.field === 2) {
      for (const g of fields(bytesOf(f, 'additional_ips'))) {
        if (g.field === 1) additional.push(stringOf(g, 'PodIP.ip'));
      }
    }
  }
  return [ip, ...additional].filter((a) => a !== '');
}

function decodeMetadata(buf: Buffer): SandboxMetadata {
  let name = '';
  let uid = '';
  let namespace = '';
  for (const f of fields(buf)) {
    if (f.field === 1) name = stringOf(f, 'PodSandboxMetadata.name');
    else if (f.field === 2) uid = stringOf(f, 'PodSandboxMetadata.uid');
    else if (f.field === 3) namespace = stringOf(f, 'PodSandboxMetadata.namespace');
  }
  return { name, uid, namespace };
}

// ---- the wire format ----

type Field =
  | { readonly field: number; readonly wire: 0; readonly value: number }
  | { readonly field: number; readonly wire: 2; readonly bytes: Buffer }
  | { readonly field: number; readonly wire: 1 | 5 };

/** The fields of one message in order; fixed-width values are skipped (none is read). */
function* fields(buf: Buffer): Generator<Field> {
  let pos = 0;
  while (pos < buf.length) {
    const [tag, afterTag] = readVarint(buf, pos);
    pos = afterTag;
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (field === 0) throw new CriDecodeError('field number 0');
    if (wire === 0) {
      const [value, next] = readVarint(buf, pos);
      pos = next;
      yield { field, wire, value };
    } else if (wire === 2) {
      const [length, start] = readVarint(buf, pos);
      const end = start + length;
      if (end > buf.length) throw new CriDecodeError(`field ${field} runs past the end`);
      pos = end;
      yield { field, wire, bytes: buf.subarray(start, end) };
    } else if (wire === 1 || wire === 5) {
      pos += wire === 1 ? 8 : 4;
      if (pos > buf.length) throw new CriDecodeError(`field ${field} runs past the end`);
      yield { field, wire };
    } else {
      throw new CriDecodeError(`field ${field} has wire type ${wire}`);
    }
  }
}

/** A varint as a number: exact up to 2^53, which every length and enum here is far below. */
function readVarint(buf: Buffer, at: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let pos = at; pos < buf.length && pos < at + 10; pos++) {
    const byte = buf[pos] ?? 0;
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) return [value, pos + 1];
    scale *= 128;
  }
  throw new CriDecodeError('truncated or overlong varint');
}

function bytesOf(f: Field, what: string): Buffer {
  if (f.wire !== 2) throw new CriDecodeError(`${what} is not length-delimited`);
  return f.bytes;
}

function stringOf(f: Field, what: string): string {
  return bytesOf(f, what).toString('utf8');
}

function varintOf(f: Field, what: string): number {
  if (f.wire !== 0) throw new CriDecodeError(`${what} is not a varint`);
  return f.value;
}

function lengthDelimited(field: number, payload: Buffer): Buffer {
  return Buffer.concat([varint(field * 8 + 2), varint(payload.length), payload]);
}

function varint(value: number): Buffer {
  const bytes: number[] = [];
  let rest = value;
  while (rest >= 0x80) {
    bytes.push((rest % 128) | 0x80);
    rest = Math.floor(rest / 128);
  }
  bytes.push(rest);
  return Buffer.from(bytes);
}
