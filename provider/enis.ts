import type { NetworkInterface } from '@aws-sdk/client-ec2';
import {
  ATTACHMENT_NOT_FOUND,
  INVALID_PARAMETER_VALUE,
  isEc2Error,
  isRetryable,
  NETWORK_INTERFACE_NOT_FOUND,
} from './aws-errors.js';
import { Ec2Error } from './errors.js';
import type { AttachedEni, CreateEniRequest } from './ec2-network.js';
import { required, toAttachedEni } from './ec2-shapes.js';
import { sleepBackoff } from './backoff.js';
import { eniTags, tagRecord } from './eni-tags.js';
import { awaitMetadataEni, readMetadataEnis, type MetadataEni } from './metadata-enis.js';
import type { SubnetCatalog } from './subnets.js';
import { awaitEni, describeEni, type VisibilityDeps } from './visibility.js';

/** DescribeNetworkInterfaces pages; the filtered, paginated call gets EC2's larger bucket. */
const PAGE_SIZE = 1000;
/**
 * Device-index conflicts come from an attach racing ours (another ENI attached since we listed);
 * a few next indexes settle it, more would hide a real problem.
 */
export const DEVICE_INDEX_ATTEMPTS = 4;
/**
 * Compensation keeps trying (each try is itself a full retried call sequence) for this long before
 * it hands the ENI to the leak reaper: under a throttling storm six tries of one call are not
 * enough, and an ENI given up on here would hold its addresses until the next leak scan.
 */
export const COMPENSATION_PATIENCE_MS = 10 * 60_000;
/** Throttling, a transient fault or eventual consistency pass; anything else will not. */
function worthRetrying(err: unknown): boolean {
  return !isEc2Error(err) || isRetryable(err.kind);
}

/** Waits between compensation tries: long enough to let a throttled bucket refill. */
const COMPENSATION_BACKOFF = { baseMs: 2_000, capMs: 60_000 };

export interface EniDeps extends VisibilityDeps {
  subnets: SubnetCatalog;
  clusterName: string | undefined;
  extraTags: Readonly<Record<string, string>>;
}

/** The tag that keeps an ENI away from pod networking, as the AWS VPC CNI reads it. */
export const NO_MANAGE_TAG = 'node.k8s.amazonaws.com/no_manage';

/**
 * Why an attached ENI is not eni-ipam's to use, or undefined when it is: only plain `interface`
 * ENIs on the default network card (0) carry pod addresses. Trunk ENIs belong to the VPC resource
 * controller (security groups for pods), EFA ENIs to HPC workloads, and an ENI tagged
 * no_manage=true to whoever tagged it; each still counts against the instance's ENI limit.
 */
export function unmanagedReason(eni: NetworkInterface): string | undefined {
  const type = eni.InterfaceType;
  if (type !== undefined && type !== 'interface') return `interface type ${type}`;
  const noManage = (eni.TagSet ?? []).find((t) => t.Key === NO_MANAGE_TAG)?.Value;
  if (noManage?.toLowerCase() === 'true') return `tagged ${NO_MANAGE_TAG}=true`;
  const card = eni.Attachment?.NetworkCardIndex ?? 0;
  if (card !== 0) return `on network card ${card} (only the default card is managed)`;
  return undefined;
}

/** The lifecycle of pod ENIs: list, create + attach (with compensation), detach + delete. */
export class EniLifecycle {
  /** Per instance: device index -> ENI this process attached there and Describe may not show yet. */
  private readonly deviceIndexClaims = new Map<string, Map<number, string>>();
  /** ENIs this process created and could not remove: the leak reaper deletes them without a grace period. */
  private readonly orphans = new Map<string, string>();
  /** ENIs whose compensating delete was sent at least once (NotFound after that means done). */
  private readonly deleteTried = new Set<string>();
  /**
   * ENIs this process created whose attach (or compensation) has not finished: `available` in EC2
   * and perhaps older than the leak grace (an attach queued behind a long wait for the shared
   * budget), yet never a leak.
   */
  private readonly attaching = new Set<string>();
  /** Per leak scan under way: every ENI that was attaching at some point during it. */
  private readonly scans = new Set<Set<string>>();

  constructor(private readonly deps: EniDeps) {}

  /**
   * The instance's ENIs. From instance metadata when it answers (no EC2 budget spent): only ENIs this
   * process has not met yet (at start-up, or attached by someone else) cost one
   * DescribeNetworkInterfaces for their tags and attachment ids. From EC2 otherwise.
   */
  async listAttached(instanceId: string): Promise<AttachedEni[]> {
    const { metadata, known } = this.deps;
    const fromImds = metadata === undefined ? undefined : await readMetadataEnis(metadata);
    known.metadataLists = fromImds !== undefined && fromImds.length > 0;
    if (fromImds === undefined || fromImds.length === 0) return this.listAttachedFromEc2(instanceId);
    for (const eni of fromImds) {
      known.seenInMetadata(eni.eniId, eni.mac);
      this.deps.subnets.learnCidr(eni.subnetId, eni.subnetCidr);
    }
    // The primary ENI needs no Describe: it is never detached (no attachment id needed) and always
    // managed, so a cold start (only the primary attached) lists its ENIs from metadata alone.
    const unknown = fromImds
      .filter((eni) => eni.deviceIndex !== 0 && known.get(eni.eniId) === undefined)
      .map((eni) => eni.eniId);
    if (unknown.length > 0) await this.learn(unknown);
    return fromImds.map((eni) => this.fromMetadata(eni));
  }

  private fromMetadata(eni: MetadataEni): AttachedEni {
    const facts = this.deps.known.get(eni.eniId);
    return {
      eniId: eni.eniId,
      attachmentId: facts?.attachmentId,
      deviceIndex: eni.deviceIndex,
      primary: eni.deviceIndex === 0,
      subnetId: eni.subnetId,
      subnetCidr: eni.subnetCidr,
      macAddress: eni.mac,
      primaryIp: eni.primaryIp,
      secondaryIps: eni.secondaryIps,
      prefixes: eni.prefixes,
      securityGroupIds: eni.securityGroupIds,
      tags: facts?.tags ?? {},
    };
  }

  /** One Describe for the tags and attachments of ENIs IMDS lists but this process has not met. */
  private async learn(eniIds: readonly string[]): Promise<void> {
    // A filter, not NetworkInterfaceIds: an ENI Describe does not show yet is left out instead of
    // failing the whole call; it is asked about again at the next listing.
    const out = await this.deps.client.describeNetworkInterfaces({
      Filters: [{ Name: 'network-interface-id', Values: [...eniIds] }],
      MaxResults: PAGE_SIZE,
    });
    for (const eni of out.NetworkInterfaces ?? []) this.remember(eni);
  }

  private remember(eni: NetworkInterface): void {
    if (eni.NetworkInterfaceId === undefined || eni.MacAddress === undefined) return;
    this.deps.known.set(eni.NetworkInterfaceId, {
      mac: eni.MacAddress,
      attachmentId: eni.Attachment?.AttachmentId,
      tags: tagRecord(eni.TagSet),
    });
  }

  private async listAttachedFromEc2(instanceId: string): Promise<AttachedEni[]> {
    const enis: NetworkInterface[] = [];
    let nextToken: string | undefined;
    do {
      const page = await this.deps.client.describeNetworkInterfaces({
        Filters: [{ Name: 'attachment.instance-id', Values: [instanceId] }],
        MaxResults: PAGE_SIZE,
        ...(nextToken === undefined ? {} : { NextToken: nextToken }),
      });
      enis.push(...(page.NetworkInterfaces ?? []));
      nextToken = page.NextToken;
    } while (nextToken !== undefined && nextToken !== '');
    for (const eni of enis) this.remember(eni);
    const subnetIds = enis.map((eni) => required(eni.SubnetId, 'SubnetId', 'DescribeNetworkInterfaces'));
    // One DescribeSubnets for the CIDRs not known yet (none on a node whose ENIs are all in its own
    // subnet: instance metadata gave that one).
    await this.deps.subnets.learnCidrs(subnetIds);
    const attached = await Promise.all(
      enis.map(async (eni): Promise<AttachedEni> => {
        const domain = await this.toAttached(eni);
        const unmanaged = unmanagedReason(eni);
        // Device index 0 on another card is not the instance's primary ENI.
        return unmanaged === undefined ? domain : { ...domain, primary: false, unmanaged };
      }),
    );
    return attached.sort((a, b) => a.deviceIndex - b.deviceIndex);
  }

  async createAndAttach(request: CreateEniRequest): Promise<AttachedEni> {
    if (request.secondaryIpCount > 0 && request.prefixCount > 0) {
      throw new RangeError('an ENI is created with secondary IPs or prefixes, not both');
    }
    const eniId = await this.create(request);
    this.attaching.add(eniId);
    for (const scan of this.scans) scan.add(eniId);
    try {
      return await this.attachCreated(eniId, request);
    } finally {
      this.attaching.delete(eniId);
    }
  }

  /**
   * Runs a leak scan and drops from its answer every ENI this process was attaching at any moment
   * of the scan: one whose attach finished while the scan's Describe was answered is attached now,
   * and deleting it would take an ENI from under its pods.
   */
  async withoutAttaching<T extends { eniId: string }>(scan: () => Promise<T[]>): Promise<T[]> {
    const seen = new Set(this.attaching);
    this.scans.add(seen);
    try {
      const found = await scan();
      return found.filter((eni) => !seen.has(eni.eniId));
    } finally {
      this.scans.delete(seen);
    }
  }

  private async attachCreated(eniId: string, request: CreateEniRequest): Promise<AttachedEni> {
    let attachmentId: string | undefined;
    try {
      attachmentId = await this.attach(eniId, request.instanceId);
      // Without DeleteOnTermination a terminated node would leave its ENIs (and their addresses)
      // behind. It is set while the attachment becomes visible: the two do not depend on each other,
      // and a burst waits for the slower of the two instead of their sum.
      const stopWaiting = new AbortController();
      const modified = this.deps.client
        .modifyNetworkInterfaceAttribute({
          NetworkInterfaceId: eniId,
          Attachment: { AttachmentId: attachmentId, DeleteOnTermination: true },
        })
        .catch((err: unknown) => {
          // The ENI is going to be removed: polling for its attachment is pointless now.
          stopWaiting.abort();
          throw err;
        });
      const visible = this.awaitAttached(eniId, request, stopWaiting.signal);
      // Both settle before compensation runs: no poll is left behind, no rejection unhandled.
      const [modify, seen] = await Promise.allSettled([modified, visible]);
      if (modify.status === 'rejected') throw modify.reason;
      if (seen.status === 'rejected') throw seen.reason;
      return seen.value;
    } catch (err) {
      // Compensation: an ENI we created and could not attach would hold its addresses forever.
      await this.compensateUntilDone(eniId, attachmentId, request.subnetId);
      throw err;
    }
  }

  /**
   * ENIs whose compensation gave up (EC2 kept refusing for COMPENSATION_PATIENCE_MS): they are ours
   * for certain, so the leak reaper deletes them at its next scan without waiting out the grace period.
   */
  orphaned(): { eniId: string; subnetId: string }[] {
    return [...this.orphans].map(([eniId, subnetId]) => ({ eniId, subnetId }));
  }

  /** The leak reaper removed (or found gone) an ENI: it is no longer an orphan. */
  forgetOrphan(eniId: string): void {
    this.orphans.delete(eniId);
  }

  /**
   * Retries the compensation until it succeeds; only after COMPENSATION_PATIENCE_MS of failures is
   * the ENI handed to the leak reaper (it also carries our tags, so a restarted process finds it).
   */
  private async compensateUntilDone(
    eniId: string,
    attachmentId: string | undefined,
    subnetId: string,
  ): Promise<void> {
    const { clock, random } = this.deps;
    const giveUpAt = clock.now() + COMPENSATION_PATIENCE_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.compensate(eniId, attachmentId);
        this.deleteTried.delete(eniId);
        return;
      } catch (err) {
        if (clock.now() >= giveUpAt || !worthRetrying(err)) {
          this.deleteTried.delete(eniId);
          this.orphans.set(eniId, subnetId);
          return;
        }
        await sleepBackoff(clock, attempt, COMPENSATION_BACKOFF, random);
      }
    }
  }

  /**
   * Undoes a create. Unlike detachAndDelete it does not ask EC2 whether the ENI exists first: just
   * after the create, EC2 may still answer NotFound, which here means "not yet", so the delete is
   * retried through it.
   */
  private async compensate(eniId: string, attachmentId: string | undefined): Promise<void> {
    if (attachmentId !== undefined) {
      try {
        // Not `finalCodes: [ATTACHMENT_NOT_FOUND]`: our attach succeeded a moment ago, so NotFound
        // means EC2 does not show the attachment yet. Taking it for "already detached" waited for
        // an `available` that never came, and left the ENI attached behind the datastore's back.
        await this.deps.client.detachNetworkInterface({ AttachmentId: attachmentId });
      } catch (err) {
        if (!isEc2Error(err, ATTACHMENT_NOT_FOUND)) throw err;
      }
      await awaitEni(
        this.deps,
        eniId,
        `detach of ${eniId}`,
        (e) => e === undefined || e.Status === 'available',
      );
    }
    try {
      await this.deps.client.deleteNetworkInterface({ NetworkInterfaceId: eniId });
    } catch (err) {
      // A later try of a delete whose earlier answer was lost: the ENI is already gone.
      if (!isEc2Error(err, NETWORK_INTERFACE_NOT_FOUND) || !this.deleteTried.has(eniId)) throw err;
    } finally {
      this.deleteTried.add(eniId);
    }
  }

  /** Detach (when attached), wait for `available`, delete; an ENI already gone is success. */
  async detachAndDelete(eniId: string): Promise<void> {
    // Its index is free again once it is detached; a claim that outlived visibility must not hold it.
    for (const claims of this.deviceIndexClaims.values()) {
      for (const [index, claimed] of claims) if (claimed === eniId) claims.delete(index);
    }
    this.deps.known.forget(eniId);
    const eni = await describeEni(this.deps.client, eniId);
    if (!eni) return;
    const attachment = eni.Attachment;
    if (attachment?.DeviceIndex === 0) {
      throw new Ec2Error(`${eniId} is the instance's primary ENI`, {
        kind: 'permanent',
        awsCode: 'PrimaryEniProtected',
        action: 'DetachNetworkInterface',
        params: { NetworkInterfaceId: eniId },
      });
    }
    if (attachment?.AttachmentId !== undefined && attachment.Status !== 'detached') {
      try {
        await this.deps.client.detachNetworkInterface(
          { AttachmentId: attachment.AttachmentId },
          { finalCodes: [ATTACHMENT_NOT_FOUND, NETWORK_INTERFACE_NOT_FOUND] },
        );
      } catch (err) {
        // Already detached (or deleted) by someone else: carry on to the delete.
        if (!isEc2Error(err, ATTACHMENT_NOT_FOUND) && !isEc2Error(err, NETWORK_INTERFACE_NOT_FOUND))
          throw err;
      }
      // DeleteNetworkInterface refuses an ENI that is still detaching (InvalidNetworkInterface.InUse).
      const seen = await awaitEni(
        this.deps,
        eniId,
        `detach of ${eniId}`,
        (e) => e === undefined || e.Status === 'available',
      );
      if (!seen) return;
    }
    // Detached now: from here on a failure would leave an `available` ENI holding its addresses,
    // so the delete is retried like a compensation, then handed to the leak reaper.
    const { clock, random } = this.deps;
    const giveUpAt = clock.now() + COMPENSATION_PATIENCE_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        await this.deps.client.deleteNetworkInterface(
          { NetworkInterfaceId: eniId },
          { finalCodes: [NETWORK_INTERFACE_NOT_FOUND] },
        );
        return;
      } catch (err) {
        if (isEc2Error(err, NETWORK_INTERFACE_NOT_FOUND)) return;
        if (clock.now() >= giveUpAt || !worthRetrying(err)) {
          this.orphans.set(eniId, eni.SubnetId ?? '');
          throw err;
        }
        await sleepBackoff(clock, attempt, COMPENSATION_BACKOFF, random);
      }
    }
  }

  /**
   * Waits until the attachment and the ENI's addresses are visible: in instance metadata when the
   * ENI's MAC is known (no EC2 budget), else by polling DescribeNetworkInterfaces.
   */
  private async awaitAttached(
    eniId: string,
    request: CreateEniRequest,
    signal: AbortSignal,
  ): Promise<AttachedEni> {
    const { metadata, known } = this.deps;
    const mac = known.macOf(eniId);
    const what = `attachment of ${eniId}`;
    if (metadata !== undefined && mac !== undefined) {
      const seen = await awaitMetadataEni(
        { ...this.deps, metadata },
        mac,
        what,
        (eni) =>
          eni !== undefined &&
          eni.eniId === eniId &&
          eni.secondaryIps.length >= request.secondaryIpCount &&
          eni.prefixes.length >= request.prefixCount,
        signal,
      );
      return this.fromMetadata(required(seen, 'NetworkInterface', 'DescribeNetworkInterfaces'));
    }
    const eni = await awaitEni(
      this.deps,
      eniId,
      what,
      (seen) => {
        if (seen?.Attachment?.Status !== 'attached') return false;
        const secondary = (seen.PrivateIpAddresses ?? []).filter((a) => a.Primary !== true).length;
        return (
          secondary >= request.secondaryIpCount && (seen.Ipv4Prefixes ?? []).length >= request.prefixCount
        );
      },
      signal,
    );
    return this.toAttached(required(eni, 'NetworkInterface', 'DescribeNetworkInterfaces'));
  }

  private async create(request: CreateEniRequest): Promise<string> {
    const { client, clock, random } = this.deps;
    try {
      const out = await client.createNetworkInterface({
        SubnetId: request.subnetId,
        Groups: request.securityGroupIds,
        ...(request.description === undefined ? {} : { Description: request.description }),
        ...(request.secondaryIpCount > 0 ? { SecondaryPrivateIpAddressCount: request.secondaryIpCount } : {}),
        ...(request.prefixCount > 0 ? { Ipv4PrefixCount: request.prefixCount } : {}),
        TagSpecifications: [
          {
            ResourceType: 'network-interface',
            Tags: eniTags(request.instanceId, clock.now(), this.deps.clusterName, {
              ...this.deps.extraTags,
              ...request.tags,
            }),
          },
        ],
        // Idempotency: a create retried after a lost answer returns the same ENI instead of a second one.
        ClientToken: `eni-ipam-${clock.now().toString(36)}-${Math.floor(random() * 2 ** 48).toString(36)}`,
      });
      const eniId = required(
        out.NetworkInterface?.NetworkInterfaceId,
        'NetworkInterface.NetworkInterfaceId',
        'CreateNetworkInterface',
      );
      if (out.NetworkInterface) this.remember(out.NetworkInterface);
      return eniId;
    } catch (err) {
      if (isEc2Error(err) && err.kind === 'subnet-full') throw err.withSubnet(request.subnetId);
      throw err;
    }
  }

  /**
   * Attaches at the lowest free device index, moving to the next on a conflict. Indexes this
   * process is attaching, or attached but Describe does not show yet, count as used: a burst
   * attaches several ENIs at once, and each would otherwise pick the same index from a listing
   * that cannot see the others.
   */
  private async attach(eniId: string, instanceId: string): Promise<string> {
    const listed = await this.listAttached(instanceId);
    const claims = this.claimsOf(instanceId);
    // A claimed ENI that Describe now shows is covered by the listing from here on.
    for (const eni of listed) claims.delete(eni.deviceIndex);
    const used = new Set([...listed.map((eni) => eni.deviceIndex), ...claims.keys()]);
    let lastError: unknown;
    for (let attempt = 0; attempt < DEVICE_INDEX_ATTEMPTS; attempt++) {
      let deviceIndex = 1;
      while (used.has(deviceIndex)) deviceIndex++;
      used.add(deviceIndex);
      claims.set(deviceIndex, eniId);
      try {
        const out = await this.deps.client.attachNetworkInterface({
          NetworkInterfaceId: eniId,
          InstanceId: instanceId,
          DeviceIndex: deviceIndex,
        });
        const attachmentId = required(out.AttachmentId, 'AttachmentId', 'AttachNetworkInterface');
        this.deps.known.update(eniId, { attachmentId });
        return attachmentId;
      } catch (err) {
        claims.delete(deviceIndex);
        // EC2 answers an index already in use with InvalidParameterValue.
        if (!isEc2Error(err, INVALID_PARAMETER_VALUE)) throw err;
        lastError = err;
      }
    }
    throw lastError;
  }

  private claimsOf(instanceId: string): Map<number, string> {
    let claims = this.deviceIndexClaims.get(instanceId);
    if (!claims) {
      claims = new Map();
      this.deviceIndexClaims.set(instanceId, claims);
    }
    return claims;
  }

  private async toAttached(eni: NetworkInterface): Promise<AttachedEni> {
    const subnetId = required(eni.SubnetId, 'SubnetId', 'DescribeNetworkInterfaces');
    return toAttachedEni(eni, await this.deps.subnets.cidrOf(subnetId));
  }
}
