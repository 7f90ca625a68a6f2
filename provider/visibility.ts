import type { NetworkInterface } from '@aws-sdk/client-ec2';
import type { Clock } from '../time/clock.js';
import { isEc2Error, NETWORK_INTERFACE_NOT_FOUND } from './aws-errors.js';
import { Ec2Error } from './errors.js';
import type { RandomSource } from './backoff.js';
import type { Ec2Client } from './ec2-client.js';
import type { MetadataSource } from './metadata.js';

/** First re-check after a quarter second: EC2 usually shows a change within one or two seconds. */
const POLL_FIRST_MS = 250;
/** Later polls at most every 5 s, so a slow detach does not spend the Describe budget. */
const POLL_CAP_MS = 5_000;
/**
 * A minute: detaching can take tens of seconds on a busy instance; past this the caller gets a
 * not-yet-visible error and the next reconcile sees whatever EC2 shows by then.
 */
export const VISIBILITY_TIMEOUT_DEFAULT_MS = 60_000;

export interface VisibilityDeps {
  client: Ec2Client;
  clock: Clock;
  random: RandomSource;
  timeoutMs: number;
  /**
   * The node's instance metadata: where the node's own ENIs are listed and waited for, at no cost to
   * the account's EC2 buckets. Without it (or for an ENI it does not know) Describe answers.
   */
  metadata?: MetadataSource | undefined;
  /** What this process learnt about ENIs that IMDS does not tell (tags, attachment ids). */
  known: KnownEnis;
}

/** Per ENI: the facts IMDS does not serve, learnt from Create/Attach answers or one Describe. */
export interface KnownEni {
  mac: string;
  attachmentId: string | undefined;
  tags: Record<string, string>;
}

export class KnownEnis {
  private readonly byId = new Map<string, KnownEni>();
  /** MACs seen in metadata: enough to wait for an ENI there, even without its tags. */
  private readonly macs = new Map<string, string>();
  /**
   * Whether the last listing came from instance metadata. Only then are waits done there: an
   * endpoint without a per-instance network listing (moto, a restricted IMDS) would never show
   * the ENI, however well its MAC is known.
   */
  metadataLists = false;

  /** The MAC to wait for in metadata; undefined when metadata does not list ENIs or this one is unknown. */
  macOf(eniId: string): string | undefined {
    if (!this.metadataLists) return undefined;
    return this.byId.get(eniId)?.mac ?? this.macs.get(eniId);
  }

  seenInMetadata(eniId: string, mac: string): void {
    this.macs.set(eniId, mac);
  }

  get(eniId: string): KnownEni | undefined {
    return this.byId.get(eniId);
  }

  set(eniId: string, facts: KnownEni): void {
    this.byId.set(eniId, facts);
  }

  update(eniId: string, facts: Partial<KnownEni>): void {
    const current = this.byId.get(eniId);
    if (current) this.byId.set(eniId, { ...current, ...facts });
  }

  forget(eniId: string): void {
    this.byId.delete(eniId);
    this.macs.delete(eniId);
  }
}

/** One look at an ENI; undefined when EC2 says it does not exist. */
export async function describeEni(client: Ec2Client, eniId: string): Promise<NetworkInterface | undefined> {
  try {
    const out = await client.describeNetworkInterfaces(
      { NetworkInterfaceIds: [eniId] },
      { finalCodes: [NETWORK_INTERFACE_NOT_FOUND] },
    );
    return out.NetworkInterfaces?.find((eni) => eni.NetworkInterfaceId === eniId);
  } catch (err) {
    if (isEc2Error(err, NETWORK_INTERFACE_NOT_FOUND)) return undefined;
    throw err;
  }
}

/**
 * EC2 is eventually consistent: a mutation that succeeded may not show in DescribeNetworkInterfaces
 * for a while, and planning on a stale Describe double-assigns or re-creates. Polls the ENI with
 * growing, jittered waits until `visible` holds, for at most `timeoutMs`.
 */
export async function awaitEni(
  deps: VisibilityDeps,
  eniId: string,
  what: string,
  visible: (eni: NetworkInterface | undefined) => boolean,
  /** Stops the wait (rejecting with an AbortError) when what it waits for no longer matters. */
  signal?: AbortSignal,
): Promise<NetworkInterface | undefined> {
  const deadline = deps.clock.now() + deps.timeoutMs;
  for (let attempt = 0; ; attempt++) {
    signal?.throwIfAborted();
    const eni = await describeEni(deps.client, eniId);
    if (visible(eni)) return eni;
    const remaining = deadline - deps.clock.now();
    if (remaining <= 0) {
      throw new Ec2Error(`${what} not visible after ${deps.timeoutMs} ms`, {
        kind: 'not-yet-visible',
        awsCode: 'VisibilityTimeout',
        action: 'DescribeNetworkInterfaces',
        params: { NetworkInterfaceIds: [eniId] },
      });
    }
    // Half fixed, half jitter: never a zero wait (that would only burn Describe tokens).
    const ceiling = Math.min(POLL_CAP_MS, POLL_FIRST_MS * 2 ** attempt);
    const wait = ceiling / 2 + deps.random() * (ceiling / 2);
    await deps.clock.sleep(Math.min(remaining, Math.ceil(wait)), signal);
  }
}
