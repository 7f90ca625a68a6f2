import type { NetworkInterface } from '@aws-sdk/client-ec2';
import { isEc2Error } from './aws-errors.js';
import { eniAddresses } from './ec2-shapes.js';
import { awaitMetadataEni } from './metadata-enis.js';
import { awaitEni, describeEni, type VisibilityDeps } from './visibility.js';

/**
 * Secondary IPs and /28 prefixes on an attached ENI; each call returns once the change is visible:
 * in instance metadata for the node's own ENIs, else in DescribeNetworkInterfaces.
 */
export class EniAddresses {
  constructor(private readonly deps: VisibilityDeps) {}

  async assignIps(eniId: string, count: number): Promise<string[]> {
    if (count <= 0) return [];
    const params = { NetworkInterfaceId: eniId, SecondaryPrivateIpAddressCount: count };
    const out = await this.withSubnet(eniId, () => this.deps.client.assignPrivateIpAddresses(params));
    const listed = (out.AssignedPrivateIpAddresses ?? []).flatMap((a) =>
      a.PrivateIpAddress === undefined ? [] : [a.PrivateIpAddress],
    );
    const mac = this.deps.known.macOf(eniId);
    if (this.deps.metadata !== undefined && mac !== undefined) {
      const seen = await awaitMetadataEni(
        { ...this.deps, metadata: this.deps.metadata },
        mac,
        `assignment of ${listed.length} IPs to ${eniId}`,
        (e) => e !== undefined && listed.every((ip) => ip === e.primaryIp || e.secondaryIps.includes(ip)),
      );
      return listed.filter((ip) => ip !== seen?.primaryIp);
    }
    const eni = await awaitEni(
      this.deps,
      eniId,
      `assignment of ${listed.length} IPs to ${eniId}`,
      (seen) => seen !== undefined && listed.every((ip) => allAddresses(seen).has(ip)),
    );
    // EC2 lists only the new addresses. Some EC2-compatible endpoints (moto) list every address of
    // the ENI, its primary included: never hand the caller the primary as a pod address.
    const { primaryIp } = eniAddresses(eni as NetworkInterface);
    return listed.filter((ip) => ip !== primaryIp);
  }

  async assignPrefixes(eniId: string, count: number): Promise<string[]> {
    if (count <= 0) return [];
    const params = { NetworkInterfaceId: eniId, Ipv4PrefixCount: count };
    const out = await this.withSubnet(eniId, () => this.deps.client.assignPrivateIpAddresses(params));
    const prefixes = (out.AssignedIpv4Prefixes ?? []).flatMap((p) =>
      p.Ipv4Prefix === undefined ? [] : [p.Ipv4Prefix],
    );
    await this.awaitAddresses(eniId, `assignment of ${prefixes.length} prefixes to ${eniId}`, (seen) =>
      prefixes.every((prefix) => seen.has(prefix)),
    );
    return prefixes;
  }

  async unassignIps(eniId: string, ips: readonly string[]): Promise<void> {
    if (ips.length === 0) return;
    await this.deps.client.unassignPrivateIpAddresses({
      NetworkInterfaceId: eniId,
      PrivateIpAddresses: [...ips],
    });
    await this.awaitAddresses(eniId, `release of ${ips.length} IPs from ${eniId}`, (seen) =>
      ips.every((ip) => !seen.has(ip)),
    );
  }

  async unassignPrefixes(eniId: string, prefixes: readonly string[]): Promise<void> {
    if (prefixes.length === 0) return;
    await this.deps.client.unassignPrivateIpAddresses({
      NetworkInterfaceId: eniId,
      Ipv4Prefixes: [...prefixes],
    });
    await this.awaitAddresses(eniId, `release of ${prefixes.length} prefixes from ${eniId}`, (seen) =>
      prefixes.every((prefix) => !seen.has(prefix)),
    );
  }

  private async awaitAddresses(
    eniId: string,
    what: string,
    done: (seen: Set<string>) => boolean,
  ): Promise<void> {
    // The node's own ENI: instance metadata shows the change without spending EC2's budget.
    const mac = this.deps.known.macOf(eniId);
    if (this.deps.metadata !== undefined && mac !== undefined) {
      await awaitMetadataEni(
        { ...this.deps, metadata: this.deps.metadata },
        mac,
        what,
        (e) => e !== undefined && done(new Set([...e.secondaryIps, ...e.prefixes])),
      );
      return;
    }
    await awaitEni(this.deps, eniId, what, (eni) => eni !== undefined && done(addressSet(eni)));
  }

  /** A subnet-full answer names the ENI, not its subnet; the planner needs the subnet to skip it. */
  private async withSubnet<T>(eniId: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (!isEc2Error(err) || err.kind !== 'subnet-full') throw err;
      const eni = await describeEni(this.deps.client, eniId).catch(() => undefined);
      throw eni?.SubnetId === undefined ? err : err.withSubnet(eni.SubnetId);
    }
  }
}

/** Every IPv4 address of the ENI, its primary included. */
function allAddresses(eni: NetworkInterface): Set<string> {
  const { primaryIp, secondaryIps } = eniAddresses(eni);
  return new Set([primaryIp, ...secondaryIps]);
}

function addressSet(eni: NetworkInterface): Set<string> {
  const { secondaryIps, prefixes } = eniAddresses(eni);
  return new Set([...secondaryIps, ...prefixes]);
}
