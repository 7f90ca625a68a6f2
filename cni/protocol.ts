/**
 * The contract between the CNI plugin and the agent over the unix socket.
 *
 * One connection carries exactly one exchange: the plugin writes one JSON request followed by
 * "\n", the agent writes one JSON response followed by "\n" and closes. Both carry `v`, the
 * protocol version, so that a plugin binary and an agent from different releases (a rolling
 * upgrade replaces the agent before or after the binary on the host) notice a mismatch instead of
 * misreading each other. Hand-written validators instead of zod: the plugin runs once per pod and
 * must start fast, so it imports nothing but node: builtins and these small modules.
 */

export const PROTOCOL_VERSION = 1;

/** Largest request or response line (GC lists every attachment on the node: a few hundred). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;

export const DEFAULT_SOCKET_PATH = '/var/run/eni-ipam/ipam.sock';
export const DEFAULT_SPOOL_PATH = '/var/run/eni-ipam/release-spool.jsonl';

/** Longest string field accepted on the wire; real ids are 64 hex chars, names 253. */
const MAX_FIELD_CHARS = 4096;
const MAX_LIST_ITEMS = 10_000;

/** The pod as named by CNI_ARGS; every part is optional because non-Kubernetes runtimes omit it. */
export interface PodIdentity {
  namespace?: string;
  name?: string;
  uid?: string;
  infraContainerId?: string;
}

/** What CNI GC and assignments are keyed by. */
export interface AttachmentKey {
  containerId: string;
  ifname: string;
}

export interface AddRequest extends AttachmentKey {
  op: 'add';
  netns: string;
  /** The network configuration's `name`. */
  network: string;
  pod: PodIdentity;
  /** Pod annotations when the runtime passes them (capability io.kubernetes.cri.pod-annotations). */
  annotations?: Record<string, string>;
}

export interface DelRequest extends AttachmentKey {
  op: 'del';
  network: string;
  pod: PodIdentity;
  /** Addresses (CIDR) from prevResult, when the runtime passed one. Informational. */
  addresses?: string[];
  /**
   * Set only when the release comes from the spool: when the plugin recorded it (epoch ms). An
   * assignment made for the same key after that moment belongs to a later ADD and must be kept.
   */
  spooledAt?: number;
}

export interface CheckRequest extends AttachmentKey {
  op: 'check';
  network: string;
  pod: PodIdentity;
  /** Addresses (CIDR) from prevResult that the container should still hold. */
  addresses: string[];
}

export interface GcRequest {
  op: 'gc';
  network: string;
  validAttachments: AttachmentKey[];
}

export interface StatusRequest {
  op: 'status';
  network: string;
}

export type AgentRequest = AddRequest | DelRequest | CheckRequest | GcRequest | StatusRequest;
export type AgentOp = AgentRequest['op'];

export interface IpamIp {
  /** Address with the subnet's prefix length, e.g. "10.0.1.23/24". */
  address: string;
  gateway?: string;
}

export interface IpamRoute {
  dst: string;
  gw?: string;
}

export interface IpamDns {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}

/** The abbreviated IPAM result, without cniVersion (the plugin adds the caller's version). */
export interface IpamResult {
  ips: IpamIp[];
  routes: IpamRoute[];
  dns?: IpamDns;
}

export interface WireError {
  code: number;
  msg: string;
  details?: string;
}

export type AgentResponse =
  | { v: number; ok: true; op: 'add'; result: IpamResult }
  | { v: number; ok: true; op: 'del' | 'check' | 'status' }
  | { v: number; ok: true; op: 'gc'; released: number }
  | { v: number; ok: false; error: WireError };

/** Why a message was refused: `decode` for bytes that are not our JSON, `version` for another v. */
export interface ProtocolViolation {
  kind: 'decode' | 'version';
  message: string;
}

type Parsed<T> = { ok: true; value: T } | { ok: false; violation: ProtocolViolation };

class Violation extends Error {}

function fail(message: string): never {
  throw new Violation(message);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function str(o: Record<string, unknown>, key: string): string {
  const v = o[key];
  if (typeof v !== 'string') fail(`${key} must be a string`);
  if (v.length > MAX_FIELD_CHARS) fail(`${key} is longer than ${MAX_FIELD_CHARS} characters`);
  return v;
}

function optStr(o: Record<string, unknown>, key: string): string | undefined {
  return o[key] === undefined ? undefined : str(o, key);
}

function list<T>(o: Record<string, unknown>, key: string, item: (v: unknown, where: string) => T): T[] {
  const v = o[key];
  if (!Array.isArray(v)) fail(`${key} must be an array`);
  if (v.length > MAX_LIST_ITEMS) fail(`${key} has more than ${MAX_LIST_ITEMS} entries`);
  return v.map((x, i) => item(x, `${key}[${i}]`));
}

function strItem(v: unknown, where: string): string {
  if (typeof v !== 'string' || v.length > MAX_FIELD_CHARS) fail(`${where} must be a string`);
  return v;
}

function attachmentItem(v: unknown, where: string): AttachmentKey {
  if (!isRecord(v)) fail(`${where} must be an object`);
  return { containerId: str(v, 'containerId'), ifname: str(v, 'ifname') };
}

function pod(o: Record<string, unknown>): PodIdentity {
  const p = o['pod'];
  if (!isRecord(p)) fail('pod must be an object');
  const out: PodIdentity = {};
  const namespace = optStr(p, 'namespace');
  const name = optStr(p, 'name');
  const uid = optStr(p, 'uid');
  const infraContainerId = optStr(p, 'infraContainerId');
  if (namespace !== undefined) out.namespace = namespace;
  if (name !== undefined) out.name = name;
  if (uid !== undefined) out.uid = uid;
  if (infraContainerId !== undefined) out.infraContainerId = infraContainerId;
  return out;
}

function annotations(o: Record<string, unknown>): Record<string, string> | undefined {
  const a = o['annotations'];
  if (a === undefined) return undefined;
  if (!isRecord(a)) fail('annotations must be an object');
  // fromEntries defines each key as its own property: an assignment would drop "__proto__".
  return Object.fromEntries(Object.entries(a).map(([k, v]) => [k, strItem(v, `annotations.${k}`)]));
}

function requestBody(o: Record<string, unknown>): AgentRequest {
  const op = o['op'];
  switch (op) {
    case 'add': {
      const req: AddRequest = {
        op,
        containerId: str(o, 'containerId'),
        ifname: str(o, 'ifname'),
        netns: str(o, 'netns'),
        network: str(o, 'network'),
        pod: pod(o),
      };
      const ann = annotations(o);
      if (ann !== undefined) req.annotations = ann;
      return req;
    }
    case 'del': {
      const req: DelRequest = {
        op,
        containerId: str(o, 'containerId'),
        ifname: str(o, 'ifname'),
        network: str(o, 'network'),
        pod: pod(o),
      };
      if (o['addresses'] !== undefined) req.addresses = list(o, 'addresses', strItem);
      const at = o['spooledAt'];
      if (at !== undefined) {
        if (typeof at !== 'number' || !Number.isFinite(at)) fail('spooledAt must be a number');
        req.spooledAt = at;
      }
      return req;
    }
    case 'check':
      return {
        op,
        containerId: str(o, 'containerId'),
        ifname: str(o, 'ifname'),
        network: str(o, 'network'),
        pod: pod(o),
        addresses: list(o, 'addresses', strItem),
      };
    case 'gc':
      return {
        op,
        network: str(o, 'network'),
        validAttachments: list(o, 'validAttachments', attachmentItem),
      };
    case 'status':
      return { op, network: str(o, 'network') };
    default:
      return fail(`unknown op ${JSON.stringify(op)}`);
  }
}

function withVersion<T>(line: string, body: (o: Record<string, unknown>) => T): Parsed<T> {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch {
    return { ok: false, violation: { kind: 'decode', message: 'not JSON' } };
  }
  if (!isRecord(json)) return { ok: false, violation: { kind: 'decode', message: 'not a JSON object' } };
  if (json['v'] !== PROTOCOL_VERSION) {
    return {
      ok: false,
      violation: {
        kind: 'version',
        message: `protocol version ${JSON.stringify(json['v'])}, expected ${PROTOCOL_VERSION}`,
      },
    };
  }
  try {
    return { ok: true, value: body(json) };
  } catch (err) {
    if (err instanceof Violation) return { ok: false, violation: { kind: 'decode', message: err.message } };
    throw err;
  }
}

/** Parses one request line (without its "\n"). */
export function parseRequest(line: string): Parsed<AgentRequest> {
  return withVersion(line, requestBody);
}

export function encodeRequest(req: AgentRequest): string {
  return `${JSON.stringify({ v: PROTOCOL_VERSION, ...req })}\n`;
}

export function encodeResponse(res: AgentResponse): string {
  return `${JSON.stringify(res)}\n`;
}

function ipamResult(v: unknown): IpamResult {
  if (!isRecord(v)) fail('result must be an object');
  const ips = list(v, 'ips', (x, where): IpamIp => {
    if (!isRecord(x)) fail(`${where} must be an object`);
    const ip: IpamIp = { address: str(x, 'address') };
    const gateway = optStr(x, 'gateway');
    if (gateway !== undefined) ip.gateway = gateway;
    return ip;
  });
  if (ips.length === 0) fail('result.ips is empty');
  const routes = list(v, 'routes', (x, where): IpamRoute => {
    if (!isRecord(x)) fail(`${where} must be an object`);
    const route: IpamRoute = { dst: str(x, 'dst') };
    const gw = optStr(x, 'gw');
    if (gw !== undefined) route.gw = gw;
    return route;
  });
  const result: IpamResult = { ips, routes };
  const dns = v['dns'];
  if (dns !== undefined) {
    if (!isRecord(dns)) fail('result.dns must be an object');
    const out: IpamDns = {};
    if (dns['nameservers'] !== undefined) out.nameservers = list(dns, 'nameservers', strItem);
    const domain = optStr(dns, 'domain');
    if (domain !== undefined) out.domain = domain;
    if (dns['search'] !== undefined) out.search = list(dns, 'search', strItem);
    if (dns['options'] !== undefined) out.options = list(dns, 'options', strItem);
    result.dns = out;
  }
  return result;
}

function responseBody(o: Record<string, unknown>): AgentResponse {
  const v = PROTOCOL_VERSION;
  if (o['ok'] === false) {
    const e = o['error'];
    if (!isRecord(e)) fail('error must be an object');
    const code = e['code'];
    if (typeof code !== 'number' || !Number.isInteger(code) || code < 1)
      fail('error.code must be a positive integer');
    const error: WireError = { code, msg: str(e, 'msg') };
    const details = optStr(e, 'details');
    if (details !== undefined) error.details = details;
    return { v, ok: false, error };
  }
  if (o['ok'] !== true) fail('ok must be a boolean');
  const op = o['op'];
  switch (op) {
    case 'add':
      return { v, ok: true, op, result: ipamResult(o['result']) };
    case 'gc': {
      const released = o['released'];
      if (typeof released !== 'number' || !Number.isInteger(released) || released < 0) {
        fail('released must be a count');
      }
      return { v, ok: true, op, released };
    }
    case 'del':
    case 'check':
    case 'status':
      return { v, ok: true, op };
    default:
      return fail(`unknown op ${JSON.stringify(op)}`);
  }
}

/** Parses one response line (without its "\n"). */
export function parseResponse(line: string): Parsed<AgentResponse> {
  return withVersion(line, responseBody);
}
