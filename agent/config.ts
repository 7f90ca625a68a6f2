/**
 * The agent's configuration, parsed once at the edge from the environment into a frozen, typed
 * object; nothing deeper reads process.env. Unlike the AWS VPC CNI, which logs and falls back to a
 * default, an invalid value stops start-up with every bad variable named at once.
 */
import type { WarmTargets } from '../ipam/plan-types.js';
import type { CloudWatchAggregation, CloudWatchFormat } from './metrics/cloudwatch-samples.js';
import {
  EnvReader,
  MAX_DURATION_SECONDS,
  parseCidrList,
  parseMtu,
  parseRandomizeSnat,
  type RandomizeSnatName,
  parseAbsolutePath,
  parseBindAddress,
  parseBool,
  parseCloudWatchAggregation,
  parseCloudWatchFormat,
  parseCloudWatchNamespace,
  parseEniTags,
  parseFraction,
  parseInteger,
  parseLabelKey,
  parseLogLevel,
  parseNonEmpty,
  parsePools,
  parseRegion,
  parseSecurityGroupList,
  parseUrl,
  type AddressPool,
  type BindAddress,
  type ConfigIssue,
  type LogLevelName,
} from './config-schema.js';
import { configVariable, type ConfigVariableName } from './config-table.js';
import { MAX_ADD_TIMEOUT_MS } from '../cni/timeouts.js';
import { readWarmTargets } from './config-warm-targets.js';
import { InvalidConfigError } from './errors.js';

export type { AddressPool, BindAddress, ConfigIssue, LogLevelName };

/**
 * Share of each EC2 throttling bucket (per account and Region) this agent may use; a family left
 * out uses the provider's default (a tenth per node, half for a cluster sharing one budget).
 */
export interface Ec2RateFractions {
  /** Describe* calls. */
  readonly describe?: number;
  /** Create/DeleteNetworkInterface, Assign/UnassignPrivateIpAddresses, ModifyNetworkInterfaceAttribute. */
  readonly mutate?: number;
  /** Attach/DetachNetworkInterface. */
  readonly attach?: number;
  /** CreateTags. */
  readonly tags?: number;
}

export interface AgentConfig {
  readonly nodeName: string;
  readonly clusterName: string | undefined;
  readonly warmTargets: Readonly<WarmTargets>;
  readonly customNetworking: boolean;
  /** Node label naming the ENIConfig; nodes without it use the ENIConfig named after their AZ. */
  readonly eniConfigLabel: string;
  readonly eniConfigAnnotation: string;
  readonly subnetDiscovery: boolean;
  readonly ipCooldownMs: number;
  readonly metrics: { readonly enabled: boolean; readonly bind: BindAddress };
  readonly introspection: { readonly enabled: boolean; readonly bind: BindAddress };
  readonly additionalEniTags: Readonly<Record<string, string>>;
  /** Security groups for ENIs this agent creates; undefined: the primary ENI's (or the ENIConfig's). */
  readonly podEniSecurityGroups: readonly string[] | undefined;
  readonly pools: readonly AddressPool[];
  readonly leakedEniCleanup: boolean;
  readonly logLevel: LogLevelName;
  readonly socketPath: string;
  readonly checkpointPath: string;
  readonly spoolPath: string;
  /** The container runtime's CRI socket, asked while ownership recovery has quarantined addresses. */
  readonly criSocketPath: string;
  readonly addWaitMs: number;
  readonly ec2ResyncMs: number;
  readonly podGoneGraceMs: number;
  readonly leakedEniGraceMs: number;
  readonly subnetFullSkipMs: number;
  readonly aws: {
    /** undefined: the instance's Region, from IMDS. */
    readonly region: string | undefined;
    readonly ec2Endpoint: string | undefined;
    readonly imdsEndpoint: string;
    readonly rateFractions: Ec2RateFractions;
    /** Shared rate budget for all nodes; undefined: each node limits itself alone. */
    readonly rateLimitRedisUrl: string | undefined;
  };
  readonly cloudWatch: {
    readonly enabled: boolean;
    readonly namespace: string;
    readonly format: CloudWatchFormat;
    readonly aggregation: CloudWatchAggregation;
  };
  /** undefined: in-cluster service account. */
  readonly kubeconfig: string | undefined;
  /** The node's links, tables, rules and NAT (docs/datapath.md). */
  readonly datapath: {
    readonly enabled: boolean;
    readonly mtu: number;
    readonly externalSnat: boolean;
    readonly excludeSnatCidrs: readonly string[];
    readonly randomizeSnat: RandomizeSnatName;
  };
}

const seconds = (raw: string): ReturnType<typeof parseInteger> => parseInteger(raw, 0, MAX_DURATION_SECONDS);
const positiveSeconds = (raw: string): ReturnType<typeof parseInteger> =>
  parseInteger(raw, 1, MAX_DURATION_SECONDS);
/** An ADD cannot usefully wait longer than the plugin's longest ADD timeout. */
const addWaitSeconds = (raw: string): ReturnType<typeof parseInteger> =>
  parseInteger(raw, 0, MAX_ADD_TIMEOUT_MS / 1000);
const httpUrl = (raw: string): ReturnType<typeof parseUrl> => parseUrl(raw, ['http:', 'https:']);
const redisUrl = (raw: string): ReturnType<typeof parseUrl> => parseUrl(raw, ['redis:', 'rediss:']);

function definedOnly<T extends object>(record: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/** Parses the whole environment; throws InvalidConfigError listing every invalid variable. */
export function loadConfig(env: Readonly<Record<string, string | undefined>>): AgentConfig {
  const read = new EnvReader(env);
  const ms = (name: ConfigVariableName, parse: typeof seconds): number => read.value(name, parse) * 1000;

  const warmTargets = readWarmTargets(read);
  // Required: when missing an issue is recorded and the '' below is never returned.
  const nodeName = read.optional('MY_NODE_NAME', parseNonEmpty) ?? '';
  const config: AgentConfig = {
    nodeName,
    clusterName: read.optional('CLUSTER_NAME', parseNonEmpty),
    warmTargets,
    customNetworking: read.value('AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG', parseBool),
    eniConfigLabel: read.value('ENI_CONFIG_LABEL_DEF', parseLabelKey),
    eniConfigAnnotation: read.value('ENI_CONFIG_ANNOTATION_DEF', parseLabelKey),
    subnetDiscovery: read.value('ENABLE_SUBNET_DISCOVERY', parseBool),
    ipCooldownMs: ms('IP_COOLDOWN_PERIOD', seconds),
    metrics: {
      enabled: !read.value('DISABLE_METRICS', parseBool),
      bind: read.value('ENI_IPAM_METRICS_BIND_ADDRESS', parseBindAddress),
    },
    introspection: {
      enabled: !read.value('DISABLE_INTROSPECTION', parseBool),
      bind: read.value('INTROSPECTION_BIND_ADDRESS', parseBindAddress),
    },
    additionalEniTags: read.optional('ADDITIONAL_ENI_TAGS', parseEniTags) ?? {},
    podEniSecurityGroups: read.optional('ENI_IPAM_POD_ENI_SECURITY_GROUPS', parseSecurityGroupList),
    pools: read.optional('ENI_IPAM_POOLS', parsePools) ?? [],
    leakedEniCleanup: !read.value('DISABLE_LEAKED_ENI_CLEANUP', parseBool),
    logLevel: read.value('AWS_VPC_K8S_CNI_LOGLEVEL', parseLogLevel),
    socketPath: read.value('ENI_IPAM_SOCKET', parseAbsolutePath),
    checkpointPath: read.value('ENI_IPAM_CHECKPOINT', parseAbsolutePath),
    spoolPath: read.value('ENI_IPAM_SPOOL', parseAbsolutePath),
    criSocketPath: read.value('ENI_IPAM_CRI_SOCKET', parseAbsolutePath),
    addWaitMs: ms('ENI_IPAM_ADD_WAIT_SECONDS', addWaitSeconds),
    ec2ResyncMs: ms('ENI_IPAM_EC2_RESYNC_SECONDS', positiveSeconds),
    podGoneGraceMs: ms('ENI_IPAM_POD_GONE_GRACE_SECONDS', seconds),
    leakedEniGraceMs: ms('ENI_IPAM_LEAKED_ENI_GRACE_SECONDS', seconds),
    subnetFullSkipMs: ms('ENI_IPAM_SUBNET_FULL_SKIP_SECONDS', seconds),
    aws: {
      region: read.optional('AWS_REGION', parseRegion),
      ec2Endpoint: read.optional('AWS_EC2_ENDPOINT', httpUrl),
      imdsEndpoint: read.value('ENI_IPAM_IMDS_ENDPOINT', httpUrl),
      rateFractions: definedOnly({
        describe: read.optional('ENI_IPAM_EC2_RATE_DESCRIBE', parseFraction),
        mutate: read.optional('ENI_IPAM_EC2_RATE_MUTATE', parseFraction),
        attach: read.optional('ENI_IPAM_EC2_RATE_ATTACH', parseFraction),
        tags: read.optional('ENI_IPAM_EC2_RATE_TAGS', parseFraction),
      }),
      rateLimitRedisUrl: read.optional('EC2_RATE_LIMIT_REDIS_URL', redisUrl),
    },
    cloudWatch: {
      enabled: read.value('ENI_IPAM_CLOUDWATCH', parseBool),
      namespace: read.value('ENI_IPAM_CLOUDWATCH_NAMESPACE', parseCloudWatchNamespace),
      format: read.value('ENI_IPAM_CLOUDWATCH_FORMAT', parseCloudWatchFormat),
      aggregation: read.value('ENI_IPAM_CLOUDWATCH_AGGREGATION', parseCloudWatchAggregation),
    },
    kubeconfig: read.optional('KUBECONFIG', parseNonEmpty),
    datapath: {
      enabled: !read.value('ENI_IPAM_DISABLE_DATAPATH', parseBool),
      mtu: read.value('AWS_VPC_ENI_MTU', parseMtu),
      externalSnat: read.value('AWS_VPC_K8S_CNI_EXTERNALSNAT', parseBool),
      excludeSnatCidrs: read.optional('AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS', parseCidrList) ?? [],
      randomizeSnat: read.value('AWS_VPC_K8S_CNI_RANDOMIZESNAT', parseRandomizeSnat),
    },
  };

  const { cloudWatch } = config;
  if (
    cloudWatch.enabled &&
    config.clusterName === undefined &&
    (cloudWatch.format === 'cni-metrics-helper' || cloudWatch.aggregation === 'cluster')
  ) {
    read.issues.push({
      variable: 'CLUSTER_NAME',
      value: undefined,
      accepted: configVariable('CLUSTER_NAME').accepted,
      problem: `ENI_IPAM_CLOUDWATCH_FORMAT=${cloudWatch.format} with ENI_IPAM_CLOUDWATCH_AGGREGATION=${cloudWatch.aggregation} publishes per cluster: set the cluster's name`,
    });
  }
  const [first, ...rest] = read.issues;
  if (first) throw new InvalidConfigError([first, ...rest]);
  return deepFreeze(config);
}
