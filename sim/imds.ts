import type { MetadataSource } from '../provider/metadata.js';
import type { SimEni } from './model.js';
import type { SimState } from './state.js';

/**
 * The instance metadata service of one simulated instance, as IMDS shows it: with the same
 * visibility delay as Describe* (IMDS also lags behind attach and assign calls), only ENIs whose
 * attachment completed, and nothing once the instance is terminated. Paths are relative to
 * `/latest/meta-data/`; directories end in `/` and list their entries one per line.
 */
export function readMetadata(state: SimState, instanceId: string, rawPath: string): string | undefined {
  const instance = state.visibleInstance(instanceId);
  if (!instance || instance.state !== 'running') return undefined;
  const path = rawPath.replace(/^\/+/, '');
  const enis = state
    .visibleEnis(
      (e) => e.attachment?.instanceId === instanceId && e.attachment.status === 'attached',
      state.eniIdsOfInstance(instanceId),
    )
    .sort((a, b) => (a.attachment?.deviceIndex ?? 0) - (b.attachment?.deviceIndex ?? 0));
  const primary = enis.find((e) => e.eniId === instance.primaryEniId);
  const vpc = state.vpc(instance.vpcId);
  switch (path) {
    case '':
      return ['instance-id', 'instance-type', 'local-ipv4', 'mac', 'network/', 'placement/'].join('\n');
    case 'instance-id':
      return instance.instanceId;
    case 'instance-type':
      return instance.instanceType;
    case 'local-ipv4':
      return primary?.primaryIp;
    case 'mac':
      return primary?.macAddress;
    case 'placement/':
      return ['availability-zone', 'region'].join('\n');
    case 'placement/availability-zone':
      return instance.availabilityZone;
    case 'placement/region':
      return state.config.region;
    case 'network/':
      return 'interfaces/';
    case 'network/interfaces/':
      return 'macs/';
    case 'network/interfaces/macs/':
      return enis.map((e) => `${e.macAddress}/`).join('\n');
    default:
      break;
  }
  const match = /^network\/interfaces\/macs\/([0-9a-f:]+)\/(.*)$/.exec(path);
  if (!match) return undefined;
  const eni = enis.find((e) => e.macAddress === match[1]);
  if (!eni) return undefined;
  return interfaceValue(eni, match[2] ?? '', state.currentSubnet(eni.subnetId)?.cidr, vpc?.cidr);
}

const INTERFACE_KEYS = [
  'device-number',
  'interface-id',
  'ipv4-prefix',
  'local-ipv4s',
  'mac',
  'security-group-ids',
  'subnet-id',
  'subnet-ipv4-cidr-block',
  'vpc-id',
  'vpc-ipv4-cidr-block',
  'vpc-ipv4-cidr-blocks',
];

function interfaceValue(
  eni: SimEni,
  key: string,
  subnetCidr: string | undefined,
  vpcCidr: string | undefined,
): string | undefined {
  switch (key) {
    case '':
      // IMDS lists ipv4-prefix only when the ENI has prefixes.
      return INTERFACE_KEYS.filter((k) => k !== 'ipv4-prefix' || eni.prefixes.length > 0).join('\n');
    case 'device-number':
      return String(eni.attachment?.deviceIndex ?? 0);
    case 'interface-id':
      return eni.eniId;
    case 'mac':
      return eni.macAddress;
    case 'local-ipv4s':
      return [eni.primaryIp, ...eni.secondaryIps].join('\n');
    case 'ipv4-prefix':
      return eni.prefixes.length > 0 ? eni.prefixes.join('\n') : undefined;
    case 'subnet-id':
      return eni.subnetId;
    case 'subnet-ipv4-cidr-block':
      return subnetCidr;
    case 'security-group-ids':
      return eni.securityGroupIds.join('\n');
    case 'vpc-id':
      return eni.vpcId;
    case 'vpc-ipv4-cidr-block':
    case 'vpc-ipv4-cidr-blocks':
      return vpcCidr;
    default:
      return undefined;
  }
}

/** The in-process IMDS for one instance, on the simulator's clock (for simulated-time runs). */
export class SimMetadataSource implements MetadataSource {
  constructor(
    private readonly state: SimState,
    private readonly instanceId: string,
  ) {}

  get(path: string, signal?: AbortSignal): Promise<string | undefined> {
    if (signal?.aborted)
      return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    return Promise.resolve(readMetadata(this.state, this.instanceId, path));
  }
}
