/**
 * Custom networking: which subnet and security groups this node's pod ENIs use, from an ENIConfig
 * (crd.k8s.amazonaws.com/v1alpha1, cluster-scoped, the AWS VPC CNI's CRD, so existing objects keep
 * working). A node names its ENIConfig by annotation (ENI_CONFIG_ANNOTATION_DEF) or label
 * (ENI_CONFIG_LABEL_DEF); a node that names none uses the ENIConfig named after its availability
 * zone (the usual one-per-AZ layout), else the one named `default`.
 */
import type { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import { z } from 'zod';
import { InvalidEniConfigError, KubeApiError } from '../errors.js';
import { KubeApi } from './kube-api.js';

export const ENICONFIG_GROUP = 'crd.k8s.amazonaws.com';
export const ENICONFIG_VERSION = 'v1alpha1';

/** Well-known zone label, then its deprecated predecessor still set by old kubelets. */
const ZONE_LABELS = ['topology.kubernetes.io/zone', 'failure-domain.beta.kubernetes.io/zone'];

export interface NodeFacts {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly availabilityZone: string | undefined;
  /** The node's annotations (ENI_CONFIG_ANNOTATION_DEF names the ENIConfig first). */
  readonly annotations?: Readonly<Record<string, string>>;
  /** status.capacity.pods: the kubelet's max pods; undefined when the node does not say. */
  readonly maxPods?: number;
}

/** A pod count as the kubelet reports it ("110"); undefined for anything else. */
export function parsePodCapacity(value: string | undefined): number | undefined {
  if (value === undefined || !/^[0-9]+$/.test(value)) return undefined;
  const count = Number(value);
  return Number.isSafeInteger(count) && count > 0 ? count : undefined;
}

export interface EniConfigSpec {
  readonly name: string;
  readonly subnet: string;
  /** Empty: the primary ENI's groups, as in the AWS VPC CNI. */
  readonly securityGroups: readonly string[];
}

export interface EniConfigSource {
  node(name: string): Promise<NodeFacts>;
  /** undefined when no ENIConfig has that name. */
  eniConfig(name: string): Promise<EniConfigSpec | undefined>;
}

/** The ENIConfig used when a node names none and none is named after its zone, as in the AWS VPC CNI. */
export const DEFAULT_ENICONFIG_NAME = 'default';

/** Where a node names its ENIConfig: ENI_CONFIG_ANNOTATION_DEF, then ENI_CONFIG_LABEL_DEF. */
export interface EniConfigKeys {
  readonly annotation: string;
  readonly label: string;
}

/**
 * The ENIConfig names to try for a node, in order: the one its annotation names, else the one its
 * label names (a node that names one uses that one or none); else the one named after its zone,
 * then `default`.
 */
export function eniConfigCandidates(node: NodeFacts, keys: EniConfigKeys): string[] {
  const fromAnnotation = node.annotations?.[keys.annotation];
  if (fromAnnotation !== undefined && fromAnnotation !== '') return [fromAnnotation];
  const fromLabel = node.labels[keys.label];
  if (fromLabel !== undefined && fromLabel !== '') return [fromLabel];
  return [...(node.availabilityZone === undefined ? [] : [node.availabilityZone]), DEFAULT_ENICONFIG_NAME];
}

/** The node's ENIConfig: the first candidate that exists; throws naming every name it tried. */
export async function resolveEniConfig(
  source: EniConfigSource,
  node: NodeFacts,
  keys: EniConfigKeys,
): Promise<EniConfigSpec> {
  const names = eniConfigCandidates(node, keys);
  for (const name of names) {
    const spec = await source.eniConfig(name);
    if (spec) return spec;
  }
  throw new Error(
    `custom networking is on but no ENIConfig for node ${node.name} exists: tried ${names.join(', ')} ` +
      `(annotation ${keys.annotation}, label ${keys.label}, the zone, then "${DEFAULT_ENICONFIG_NAME}")`,
  );
}

const specSchema = z.object({
  spec: z.object({
    subnet: z.string().regex(/^subnet-[0-9a-f]+$/, 'spec.subnet is not a subnet id'),
    securityGroups: z.array(z.string().regex(/^sg-[0-9a-f]+$/, 'not a security group id')).optional(),
  }),
});

export function parseEniConfig(name: string, obj: unknown): EniConfigSpec {
  const parsed = specSchema.safeParse(obj);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new InvalidEniConfigError(name, first ? `${first.path.join('.')}: ${first.message}` : 'malformed');
  }
  return { name, subnet: parsed.data.spec.subnet, securityGroups: parsed.data.spec.securityGroups ?? [] };
}

export class KubeEniConfigSource implements EniConfigSource {
  private readonly api: KubeApi;

  constructor(kubeConfig: KubeConfig) {
    this.api = new KubeApi(kubeConfig);
  }

  async node(name: string): Promise<NodeFacts> {
    const node = await this.api.readNode({ name });
    const labels = { ...(node.metadata?.labels ?? {}) };
    const zone = ZONE_LABELS.map((l) => labels[l]).find((z) => z !== undefined && z !== '');
    const annotations = { ...(node.metadata?.annotations ?? {}) };
    const maxPods = parsePodCapacity(node.status?.capacity?.['pods']);
    return {
      name,
      labels,
      availabilityZone: zone,
      annotations,
      ...(maxPods === undefined ? {} : { maxPods }),
    };
  }

  async eniConfig(name: string): Promise<EniConfigSpec | undefined> {
    let obj: unknown;
    try {
      obj = await this.api.getClusterCustomObject({
        group: ENICONFIG_GROUP,
        version: ENICONFIG_VERSION,
        plural: 'eniconfigs',
        name,
      });
    } catch (err) {
      if (err instanceof KubeApiError && err.status === 404) return undefined;
      throw err;
    }
    return parseEniConfig(name, obj);
  }
}
