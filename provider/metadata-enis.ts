import type { Clock } from '../time/clock.js';
import { Ec2Error } from './errors.js';
import type { RandomSource } from './backoff.js';
import type { MetadataSource } from './metadata.js';

/**
 * The node's ENIs as the instance metadata service shows them, under
 * network/interfaces/macs/<mac>/. IMDS is per instance: reading it spends none of the account's
 * EC2 buckets, which hundreds of nodes share. It lists only attached ENIs, and it lags behind an
 * attach or an assign like Describe* does, so it is also where the node waits for visibility.
 */
export interface MetadataEni {
  mac: string;
  eniId: string;
  deviceIndex: number;
  subnetId: string;
  subnetCidr: string;
  primaryIp: string;
  secondaryIps: string[];
  prefixes: string[];
  securityGroupIds: string[];
}

const MACS = 'network/interfaces/macs/';

function lines(value: string | undefined): string[] {
  return (value ?? '')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

/**
 * One ENI by MAC; undefined when IMDS does not list it (not attached, or not visible yet) or a
 * field every ENI has is missing (a partial answer is treated as not visible yet).
 */
export async function readMetadataEni(
  metadata: MetadataSource,
  mac: string,
  signal?: AbortSignal,
): Promise<MetadataEni | undefined> {
  const at = (key: string): Promise<string | undefined> => metadata.get(`${MACS}${mac}/${key}`, signal);
  const [eniId, device, subnetId, subnetCidr, ipv4s, prefixes, groups] = await Promise.all([
    at('interface-id'),
    at('device-number'),
    at('subnet-id'),
    at('subnet-ipv4-cidr-block'),
    at('local-ipv4s'),
    at('ipv4-prefix'),
    at('security-group-ids'),
  ]);
  const addresses = lines(ipv4s);
  const [primaryIp, ...secondaryIps] = addresses;
  const deviceIndex = Number(device);
  if (
    eniId === undefined ||
    subnetId === undefined ||
    subnetCidr === undefined ||
    primaryIp === undefined ||
    device === undefined ||
    !Number.isInteger(deviceIndex)
  ) {
    return undefined;
  }
  return {
    mac,
    eniId,
    deviceIndex,
    subnetId,
    subnetCidr,
    primaryIp,
    secondaryIps,
    prefixes: lines(prefixes),
    securityGroupIds: lines(groups),
  };
}

/**
 * Every ENI IMDS lists, by device index; undefined when IMDS does not answer the listing at all
 * (then the caller asks EC2). An ENI that vanishes between the listing and its fields is left out.
 */
export async function readMetadataEnis(
  metadata: MetadataSource,
  signal?: AbortSignal,
): Promise<MetadataEni[] | undefined> {
  let listing: string | undefined;
  try {
    listing = await metadata.get(MACS, signal);
  } catch {
    return undefined;
  }
  if (listing === undefined) return undefined;
  const macs = lines(listing).map((entry) => entry.replace(/\/$/, ''));
  const enis = await Promise.all(macs.map((mac) => readMetadataEni(metadata, mac, signal)));
  return enis
    .filter((eni): eni is MetadataEni => eni !== undefined)
    .sort((a, b) => a.deviceIndex - b.deviceIndex);
}

/** First look after a quarter second; IMDS costs no EC2 budget, so later looks stay frequent. */
const POLL_FIRST_MS = 250;
const POLL_CAP_MS = 1_000;

export interface MetadataWaitDeps {
  metadata: MetadataSource;
  clock: Clock;
  random: RandomSource;
  timeoutMs: number;
}

/**
 * Waits until IMDS shows the ENI with `mac` in the state `visible` accepts (undefined: not listed),
 * for at most `timeoutMs`. A metadata read that fails counts as "not yet".
 */
export async function awaitMetadataEni(
  deps: MetadataWaitDeps,
  mac: string,
  what: string,
  visible: (eni: MetadataEni | undefined) => boolean,
  signal?: AbortSignal,
): Promise<MetadataEni | undefined> {
  const deadline = deps.clock.now() + deps.timeoutMs;
  for (let attempt = 0; ; attempt++) {
    signal?.throwIfAborted();
    const eni = await readMetadataEni(deps.metadata, mac, signal).catch((err: unknown) => {
      if (signal?.aborted) throw err;
      return null;
    });
    if (eni !== null && visible(eni)) return eni;
    const remaining = deadline - deps.clock.now();
    if (remaining <= 0) {
      throw new Ec2Error(`${what} not visible in instance metadata after ${deps.timeoutMs} ms`, {
        kind: 'not-yet-visible',
        awsCode: 'VisibilityTimeout',
        action: 'DescribeNetworkInterfaces',
        params: { mac },
      });
    }
    const ceiling = Math.min(POLL_CAP_MS, POLL_FIRST_MS * 2 ** attempt);
    const wait = ceiling / 2 + deps.random() * (ceiling / 2);
    await deps.clock.sleep(Math.min(remaining, Math.ceil(wait)), signal);
  }
}
