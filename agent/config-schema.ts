/**
 * Parsers for single environment values, and a reader that applies them to every variable of the
 * table while collecting all problems, so that start-up reports every bad value at once instead of
 * one per restart of a crash-looping pod.
 */
import { redactText } from './redact.js';
import { z } from 'zod';
import { configVariable, type ConfigVariableName } from './config-table.js';
import type { CloudWatchAggregation, CloudWatchFormat } from './metrics/cloudwatch-samples.js';
import { parseCidr } from '../ipam/address.js';

export interface ConfigIssue {
  readonly variable: string;
  /** The raw value; undefined when the variable is missing. */
  readonly value: string | undefined;
  readonly accepted: string;
  /** What exactly is wrong, when "not one of the accepted values" is not enough. */
  readonly problem?: string;
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem?: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (problem?: string): Parsed<never> =>
  problem === undefined ? { ok: false } : { ok: false, problem };

/** Go's strconv.ParseBool spellings: the AWS VPC CNI reads its booleans so, and its manifests use them. */
const TRUE_SPELLINGS: ReadonlySet<string> = new Set(['1', 't', 'T', 'TRUE', 'true', 'True']);
const FALSE_SPELLINGS: ReadonlySet<string> = new Set(['0', 'f', 'F', 'FALSE', 'false', 'False']);

export function parseBool(raw: string): Parsed<boolean> {
  if (TRUE_SPELLINGS.has(raw)) return ok(true);
  if (FALSE_SPELLINGS.has(raw)) return ok(false);
  return bad();
}

/**
 * A count as the AWS VPC CNI's warm-pool variables take it: decimal digits only, so "+5", "1e3"
 * or "0x10" are refused rather than read as a number the operator may not have meant.
 */
export function parseCount(raw: string, min: number): Parsed<number> {
  const value = /^[0-9]+$/.test(raw) ? Number(raw) : Number.NaN;
  return Number.isSafeInteger(value) && value >= min ? ok(value) : bad();
}

export function parseInteger(raw: string, min: number, max = Number.MAX_SAFE_INTEGER): Parsed<number> {
  if (!/^[+-]?\d+$/.test(raw)) return bad();
  const value = Number(raw);
  if (!Number.isSafeInteger(value)) return bad('too large');
  if (value < min) return bad(`below ${min}`);
  if (value > max) return bad(`above ${max}`);
  return ok(value);
}

/**
 * The longest duration setting, in seconds: 7 days. Longer makes no operational sense, and every
 * duration then fits a timer (Node's timers take at most 2^31-1 ms, about 24.8 days, and fire
 * after 1 ms when given more).
 */
export const MAX_DURATION_SECONDS = 7 * 24 * 3600;

export function parseFraction(raw: string): Parsed<number> {
  if (!/^(\d+(\.\d*)?|\.\d+)$/.test(raw)) return bad();
  const value = Number(raw);
  return value > 0 && value <= 1 ? ok(value) : bad('out of range');
}

export interface BindAddress {
  /** undefined: all interfaces. */
  readonly host: string | undefined;
  readonly port: number;
}

const HOSTNAME =
  /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;

export function parseBindAddress(raw: string): Parsed<BindAddress> {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(raw);
  if (!match) return bad();
  const [, ipv6, name, portText] = match;
  const port = Number(portText);
  if (port < 1 || port > 65535) return bad('port out of range');
  if (ipv6 !== undefined) return ok({ host: ipv6, port });
  if (name === undefined || name === '') return ok({ host: undefined, port });
  if (!HOSTNAME.test(name)) return bad('not a host name or IPv4 address');
  if (/^[\d.]+$/.test(name) && !isIpv4(name)) return bad('not an IPv4 address');
  return ok({ host: name, port });
}

function isIpv4(text: string): boolean {
  const parts = text.split('.');
  return parts.length === 4 && parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255);
}

export function parseUrl(raw: string, protocols: readonly string[]): Parsed<string> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return bad('not a URL');
  }
  if (!protocols.includes(url.protocol)) return bad(`scheme ${url.protocol} not accepted`);
  if (url.hostname === '') return bad('no host');
  return ok(raw);
}

export function parseAbsolutePath(raw: string): Parsed<string> {
  return raw.startsWith('/') && !raw.includes('\0') ? ok(raw) : bad();
}

export type LogLevelName = 'debug' | 'info' | 'warn' | 'error' | 'fatal';

export function parseLogLevel(raw: string): Parsed<LogLevelName> {
  const lower = raw.toLowerCase();
  switch (lower) {
    case 'debug':
    case 'info':
    case 'warn':
    case 'error':
    case 'fatal':
      return ok(lower);
    default:
      return bad();
  }
}

/** Kubernetes label key: optional DNS-subdomain prefix and "/", then a name of at most 63 characters. */
export function parseLabelKey(raw: string): Parsed<string> {
  const slash = raw.lastIndexOf('/');
  const prefix = slash >= 0 ? raw.slice(0, slash) : undefined;
  const name = slash >= 0 ? raw.slice(slash + 1) : raw;
  if (!/^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/.test(name)) return bad();
  if (prefix !== undefined && (prefix.length > 253 || !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(prefix)))
    return bad();
  return ok(raw);
}

const SECURITY_GROUP_ID = /^sg-[0-9a-f]{8}([0-9a-f]{9})?$/;
const SUBNET_ID = /^subnet-[0-9a-f]{8}([0-9a-f]{9})?$/;

export function parseSecurityGroupList(raw: string): Parsed<readonly string[]> {
  const ids = raw.split(',').map((s) => s.trim());
  const wrong = ids.filter((id) => !SECURITY_GROUP_ID.test(id));
  if (wrong.length > 0)
    return bad(`not a security group id: ${wrong.map((w) => JSON.stringify(w)).join(', ')}`);
  if (ids.length > 16) return bad('EC2 accepts at most 16 security groups per ENI');
  return ok([...new Set(ids)]);
}

/** Tags the AWS VPC CNI reserves for itself; letting users set them would confuse leak detection. */
const RESERVED_TAG_PREFIXES = ['k8s.amazonaws.com', 'aws:'];

export function parseEniTags(raw: string): Parsed<Readonly<Record<string, string>>> {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return bad('not valid JSON');
  }
  const shape = z.record(z.string(), z.string()).safeParse(json);
  if (!shape.success) return bad('not an object of strings');
  const tags = shape.data;
  const keys = Object.keys(tags);
  if (keys.length > 50) return bad(`${keys.length} tags; EC2 accepts at most 50`);
  for (const key of keys) {
    const reserved = RESERVED_TAG_PREFIXES.find((p) => key.startsWith(p));
    if (reserved !== undefined) return bad(`key ${JSON.stringify(key)} uses the reserved prefix ${reserved}`);
    if (key.length < 1 || key.length > 128) return bad(`key ${JSON.stringify(key)} is not 1-128 characters`);
    if ((tags[key] ?? '').length > 256) return bad(`value of ${JSON.stringify(key)} is over 256 characters`);
  }
  return ok(Object.freeze({ ...tags }));
}

export interface AddressPool {
  readonly name: string;
  readonly subnetId: string;
  readonly securityGroups?: readonly string[];
}

const poolSchema = z
  .object({
    name: z.string().regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, 'a pool name is a DNS label'),
    subnetId: z.string().regex(SUBNET_ID, 'not a subnet id'),
    securityGroups: z
      .array(z.string().regex(SECURITY_GROUP_ID, 'not a security group id'))
      .min(1)
      .max(16)
      .optional(),
  })
  .strict();

export function parsePools(raw: string): Parsed<readonly AddressPool[]> {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    return bad('not valid JSON');
  }
  const parsed = z.array(poolSchema).safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    return bad(first ? `${first.path.join('.') || 'value'}: ${first.message}` : 'malformed');
  }
  const seen = new Set<string>();
  const pools: AddressPool[] = [];
  for (const p of parsed.data) {
    if (seen.has(p.name)) return bad(`pool ${p.name} is defined twice`);
    seen.add(p.name);
    pools.push(
      Object.freeze(
        p.securityGroups
          ? { name: p.name, subnetId: p.subnetId, securityGroups: Object.freeze([...p.securityGroups]) }
          : { name: p.name, subnetId: p.subnetId },
      ),
    );
  }
  return ok(Object.freeze(pools));
}

export function parseCloudWatchNamespace(raw: string): Parsed<string> {
  if (raw.length > 255 || raw.startsWith('AWS/') || !/^[A-Za-z0-9.\-_/#:]+$/.test(raw)) return bad();
  return ok(raw);
}

export function parseCloudWatchFormat(raw: string): Parsed<CloudWatchFormat> {
  return raw === 'eni-ipam' || raw === 'cni-metrics-helper' ? ok(raw) : bad();
}

export function parseCloudWatchAggregation(raw: string): Parsed<CloudWatchAggregation> {
  return raw === 'instance' || raw === 'cluster' ? ok(raw) : bad();
}

export function parseRegion(raw: string): Parsed<string> {
  return /^[a-z]{2}(-[a-z]+)+-\d+$/.test(raw) ? ok(raw) : bad();
}

export function parseNonEmpty(raw: string): Parsed<string> {
  return ok(raw);
}

/**
 * Reads variables of the table from one environment. Empty means unset (a manifest's `value: ""`
 * must not count as a value). Blanks are not trimmed, so that every variable is read the same way; " 5" is reported, not guessed at. A bad value is recorded and the
 * table's default is used so the remaining variables are still checked.
 */
export class EnvReader {
  readonly issues: ConfigIssue[] = [];

  constructor(private readonly env: Readonly<Record<string, string | undefined>>) {}

  /** The raw value, or undefined when unset or empty. */
  raw(name: ConfigVariableName): string | undefined {
    const value = this.env[name];
    return value === undefined || value === '' ? undefined : value;
  }

  /** Parsed value or the table default; undefined only when both are absent. */
  optional<T>(name: ConfigVariableName, parse: (raw: string) => Parsed<T>): T | undefined {
    const variable = configVariable(name);
    const raw = this.raw(name);
    if (raw === undefined) {
      if (variable.required)
        this.issues.push({
          variable: name,
          value: undefined,
          accepted: variable.accepted,
          problem: 'required',
        });
      return variable.default === undefined ? undefined : this.parseDefault(name, variable.default, parse);
    }
    const parsed = parse(raw);
    if (parsed.ok) return parsed.value;
    this.issues.push(
      parsed.problem === undefined
        ? { variable: name, value: raw, accepted: variable.accepted }
        : { variable: name, value: raw, accepted: variable.accepted, problem: parsed.problem },
    );
    return variable.default === undefined ? undefined : this.parseDefault(name, variable.default, parse);
  }

  /** For variables whose table entry has a default: always yields a value. */
  value<T>(name: ConfigVariableName, parse: (raw: string) => Parsed<T>): T {
    const result = this.optional(name, parse);
    // Only a table entry without a default can get here: a bug in the table, not an operator error.
    if (result === undefined) throw new Error(`${name} has no default in the configuration table`);
    return result;
  }

  private parseDefault<T>(name: string, text: string, parse: (raw: string) => Parsed<T>): T {
    const parsed = parse(text);
    // A default that fails its own parser is a bug in the table, not an operator error.
    if (!parsed.ok) throw new Error(`default ${JSON.stringify(text)} of ${name} fails its parser`);
    return parsed.value;
  }
}

export function describeIssue(issue: ConfigIssue): string {
  const shown =
    issue.value === undefined ? ' is not set' : `=${JSON.stringify(redactText(issue.value))} is invalid`;
  const why = issue.problem === undefined || issue.problem === 'required' ? '' : ` (${issue.problem})`;
  return `${issue.variable}${shown}${why}; accepted: ${issue.accepted}`;
}

/** Comma-separated IPv4 CIDRs (AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS); empty entries are ignored. */
export function parseCidrList(raw: string): Parsed<readonly string[]> {
  const cidrs: string[] = [];
  for (const entry of raw.split(',').map((e) => e.trim())) {
    if (entry === '') continue;
    try {
      cidrs.push(parseCidr(entry).text);
    } catch (err) {
      return bad((err as Error).message);
    }
  }
  return ok(cidrs);
}

const randomizeSnat = z.enum(['none', 'hashrandom', 'prng']);
export type RandomizeSnatName = z.infer<typeof randomizeSnat>;

export function parseRandomizeSnat(raw: string): Parsed<RandomizeSnatName> {
  const parsed = randomizeSnat.safeParse(raw.trim());
  return parsed.success ? ok(parsed.data) : bad();
}

/** AWS_VPC_ENI_MTU: the VPC CNI accepts 576 (the IPv4 minimum) to 9001 (jumbo frames in a VPC). */
export function parseMtu(raw: string): Parsed<number> {
  const parsed = parseInteger(raw, 576);
  if (parsed.ok && parsed.value > 9001) return bad('above 9001');
  return parsed;
}
