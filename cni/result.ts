/**
 * The abbreviated IPAM result in the caller's cniVersion. An IPAM plugin knows no interfaces, so
 * there is no `interfaces` list and no `interface` index; before 1.0.0 every IP also carried its
 * family as `version`.
 */
import type { IpamResult } from './protocol.js';
import { versionAtLeast, type CniVersion } from './spec.js';

interface IpOut {
  version?: '4' | '6';
  address: string;
  gateway?: string;
}

export interface AddResultJson {
  cniVersion: CniVersion;
  ips: IpOut[];
  routes?: IpamResult['routes'];
  dns?: NonNullable<IpamResult['dns']>;
}

export function addResultJson(result: IpamResult, cniVersion: CniVersion): AddResultJson {
  const withFamily = !versionAtLeast(cniVersion, '1.0.0');
  const ips = result.ips.map((ip): IpOut => {
    const out: IpOut = withFamily
      ? { version: ip.address.includes(':') ? '6' : '4', address: ip.address }
      : { address: ip.address };
    if (ip.gateway !== undefined) out.gateway = ip.gateway;
    return out;
  });
  const json: AddResultJson = { cniVersion, ips };
  if (result.routes.length > 0) json.routes = result.routes;
  if (result.dns !== undefined) json.dns = result.dns;
  return json;
}
