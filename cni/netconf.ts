/**
 * The network configuration the runtime writes to the plugin's stdin, reduced to what eni-ipam
 * needs. Decoding happens in two steps so that an error after the version is known can be
 * reported in the caller's own cniVersion: `decodeConfig` (code 6 for bytes that are not a JSON
 * object) then `configVersion` (7 when missing, 1 when unsupported) then `readNetConf` (7).
 */
import type { Env } from './env.js';
import { DEFAULT_SOCKET_PATH, DEFAULT_SPOOL_PATH, type AttachmentKey } from './protocol.js';
import { CniCode, CniError, isSupportedVersion, type CniVersion } from './spec.js';
import { DEFAULT_ADD_TIMEOUT_MS, MAX_ADD_TIMEOUT_MS } from './timeouts.js';

export type RawConfig = Record<string, unknown>;

export interface NetConf {
  cniVersion: CniVersion;
  /** The network's `name`. */
  name: string;
  socketPath: string;
  spoolPath: string;
  addTimeoutMs: number;
  /** Addresses (CIDR) from `prevResult.ips`; undefined when there is no prevResult. */
  prevResultAddresses?: string[];
  /** GC only: the attachments to keep; undefined when the config lists none. */
  validAttachments?: AttachmentKey[];
  /** Pod annotations passed by the runtime through `runtimeConfig`, if any. */
  annotations?: Record<string, string>;
}

/** containerd passes pod annotations under this runtimeConfig key to plugins with the capability. */
const POD_ANNOTATIONS_CAPABILITY = 'io.kubernetes.cri.pod-annotations';

/** The network name rule of the spec. */
const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function invalidConfig(msg: string, details?: string): CniError {
  return new CniError(CniCode.invalidNetworkConfig, msg, details);
}

export function decodeConfig(stdin: string): RawConfig {
  let json: unknown;
  try {
    json = JSON.parse(stdin);
  } catch (err) {
    throw new CniError(CniCode.decodingFailure, 'network configuration is not valid JSON', String(err));
  }
  if (!isRecord(json))
    throw new CniError(CniCode.decodingFailure, 'network configuration is not a JSON object');
  return json;
}

export function configVersion(raw: RawConfig): CniVersion {
  const v = raw['cniVersion'];
  if (v === undefined || v === '') throw invalidConfig('cniVersion is required');
  if (typeof v !== 'string') throw invalidConfig('cniVersion must be a string');
  if (!isSupportedVersion(v)) {
    throw new CniError(
      CniCode.incompatibleVersion,
      `cniVersion ${JSON.stringify(v)} is not supported`,
      'supported: 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0',
    );
  }
  return v;
}

function pathSetting(
  ipam: Record<string, unknown>,
  key: string,
  env: Env,
  envKey: string,
  fallback: string,
): string {
  const v = ipam[key];
  if (v !== undefined) {
    if (typeof v !== 'string' || v === '') throw invalidConfig(`ipam.${key} must be a non-empty string`);
    return v;
  }
  const fromEnv = env[envKey];
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : fallback;
}

function addTimeout(ipam: Record<string, unknown>): number {
  const v = ipam['addTimeoutSeconds'];
  if (v === undefined) return DEFAULT_ADD_TIMEOUT_MS;
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v * 1000 > MAX_ADD_TIMEOUT_MS) {
    throw invalidConfig(
      `ipam.addTimeoutSeconds must be a number of seconds in (0, ${MAX_ADD_TIMEOUT_MS / 1000}]`,
    );
  }
  return Math.round(v * 1000);
}

function prevResultAddresses(raw: RawConfig): string[] | undefined {
  const prev = raw['prevResult'];
  if (prev === undefined || prev === null) return undefined;
  if (!isRecord(prev)) throw invalidConfig('prevResult must be an object');
  const ips = prev['ips'];
  if (ips === undefined) return [];
  if (!Array.isArray(ips)) throw invalidConfig('prevResult.ips must be an array');
  return ips.map((ip: unknown, i) => {
    if (!isRecord(ip) || typeof ip['address'] !== 'string')
      throw invalidConfig(`prevResult.ips[${i}].address must be a string`);
    return ip['address'];
  });
}

/**
 * `cni.dev/valid-attachments` (spec 1.1.0); `cni.dev/attachments` is the name an earlier draft
 * used, which libcni still sends alongside for plugins written against it.
 */
function validAttachments(raw: RawConfig): AttachmentKey[] | undefined {
  const key =
    raw['cni.dev/valid-attachments'] !== undefined ? 'cni.dev/valid-attachments' : 'cni.dev/attachments';
  const list = raw[key];
  if (list === undefined) return undefined;
  if (!Array.isArray(list)) throw invalidConfig(`${key} must be an array`);
  return list.map((a: unknown, i) => {
    if (!isRecord(a) || typeof a['containerID'] !== 'string' || typeof a['ifname'] !== 'string') {
      throw invalidConfig(`${key}[${i}] must be {containerID, ifname} strings`);
    }
    return { containerId: a['containerID'], ifname: a['ifname'] };
  });
}

/** Annotations are a convenience for pool selection: a malformed map is ignored, not an error. */
function podAnnotations(raw: RawConfig): Record<string, string> | undefined {
  const rc = raw['runtimeConfig'];
  if (!isRecord(rc)) return undefined;
  const ann = rc[POD_ANNOTATIONS_CAPABILITY];
  if (!isRecord(ann)) return undefined;
  // fromEntries defines each key as its own property: an assignment would drop "__proto__".
  return Object.fromEntries(
    Object.entries(ann).filter((e): e is [string, string] => typeof e[1] === 'string'),
  );
}

export function readNetConf(raw: RawConfig, cniVersion: CniVersion, env: Env): NetConf {
  const name = raw['name'];
  if (typeof name !== 'string' || name === '') throw invalidConfig('name is required');
  if (!NETWORK_NAME.test(name)) throw invalidConfig('name has invalid characters', name);
  const ipamRaw = raw['ipam'];
  if (ipamRaw !== undefined && !isRecord(ipamRaw)) throw invalidConfig('ipam must be an object');
  const ipam = ipamRaw ?? {};
  const conf: NetConf = {
    cniVersion,
    name,
    socketPath: pathSetting(ipam, 'socket', env, 'ENI_IPAM_SOCKET', DEFAULT_SOCKET_PATH),
    spoolPath: pathSetting(ipam, 'spoolPath', env, 'ENI_IPAM_SPOOL', DEFAULT_SPOOL_PATH),
    addTimeoutMs: addTimeout(ipam),
  };
  const prev = prevResultAddresses(raw);
  if (prev !== undefined) conf.prevResultAddresses = prev;
  const valid = validAttachments(raw);
  if (valid !== undefined) conf.validAttachments = valid;
  const annotations = podAnnotations(raw);
  if (annotations !== undefined) conf.annotations = annotations;
  return conf;
}
