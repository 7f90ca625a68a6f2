/**
 * Every environment variable the agent reads, as data: the README table, docs/configuration.md and
 * the deploy manifests' tests are generated from or checked against this list, and loadConfig
 * takes each default from here, so a default is written exactly once.
 */
import {
  DEFAULT_ADD_WAIT_SECONDS,
  DEFAULT_EC2_RESYNC_SECONDS,
  DEFAULT_IP_COOLDOWN_SECONDS,
  DEFAULT_LEAKED_ENI_GRACE_SECONDS,
  DEFAULT_POD_GONE_GRACE_SECONDS,
  DEFAULT_SUBNET_FULL_SKIP_SECONDS,
} from './intervals.js';

/**
 * Where a name comes from: the AWS VPC CNI (same name, same default, so existing manifests keep
 * working), eni-ipam's own, or a name every AWS SDK / Kubernetes client already reads.
 */
export type ConfigOrigin = 'AWS VPC CNI' | 'eni-ipam' | 'standard';

export interface ConfigVariable {
  readonly name: string;
  /** The value used when the variable is unset or empty; undefined when unset means "off" or "none". */
  readonly default: string | undefined;
  /** Start-up fails without it. */
  readonly required?: boolean;
  /** What is accepted, as quoted in error messages. */
  readonly accepted: string;
  readonly meaning: string;
  readonly origin: ConfigOrigin;
}

const BOOL = 'true or false (also 1/0, t/f, TRUE/FALSE, True/False, as the AWS VPC CNI accepts)';
const COUNT = 'a whole number >= 0';
const SECONDS = 'an integer number of seconds from 0 to 604800 (7 days)';
const POSITIVE_SECONDS = 'an integer number of seconds from 1 to 604800 (7 days)';
const ADD_WAIT_SECONDS = "an integer number of seconds from 0 to 600 (the plugin's longest ADD timeout)";
const BIND = 'host:port, [ipv6]:port or :port (all interfaces), port 1-65535';
const FRACTION = 'a number > 0 and <= 1';

export const CONFIG_VARIABLES = [
  // ---- The AWS VPC CNI's variables ----
  {
    name: 'WARM_ENI_TARGET',
    default: '1',
    accepted: COUNT,
    meaning:
      "ENIs' worth of free addresses to keep ready. Ignored when WARM_IP_TARGET or MINIMUM_IP_TARGET is set, and with prefix delegation.",
    origin: 'AWS VPC CNI',
  },
  {
    name: 'WARM_IP_TARGET',
    default: undefined,
    accepted: COUNT,
    meaning: 'Free addresses to keep ready. Unset or 0: use WARM_ENI_TARGET.',
    origin: 'AWS VPC CNI',
  },
  {
    name: 'MINIMUM_IP_TARGET',
    default: undefined,
    accepted: COUNT,
    meaning: 'Addresses (free and assigned) the node holds at least. Unset or 0: none.',
    origin: 'AWS VPC CNI',
  },
  {
    name: 'WARM_PREFIX_TARGET',
    default: undefined,
    accepted: COUNT,
    meaning:
      'With prefix delegation: free /28 prefixes to keep ready (unset: 0, one /28 while no address is free). Ignored when an IP target is set.',
    origin: 'AWS VPC CNI',
  },
  {
    name: 'MAX_ENI',
    default: undefined,
    accepted: 'a whole number >= 1',
    meaning: "Lowers the instance type's ENI limit. Unset: the instance type's limit.",
    origin: 'AWS VPC CNI',
  },
  {
    name: 'ENABLE_PREFIX_DELEGATION',
    default: 'false',
    accepted: BOOL,
    meaning: 'Assign /28 prefixes instead of single secondary addresses (Nitro instances).',
    origin: 'AWS VPC CNI',
  },
  {
    name: 'AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG',
    default: 'false',
    accepted: BOOL,
    meaning:
      'Custom networking: pod ENIs take their subnet and security groups from an ENIConfig; the primary ENI carries no pod addresses.',
    origin: 'AWS VPC CNI',
  },
  {
    name: 'ENI_CONFIG_LABEL_DEF',
    default: 'k8s.amazonaws.com/eniConfig',
    accepted: 'a Kubernetes label key',
    meaning:
      "Node label naming the node's ENIConfig (custom networking) when the annotation does not. Else the ENIConfig named after the zone, else `default`; re-read at every EC2 resync.",
    origin: 'AWS VPC CNI',
  },
  {
    name: 'ENI_CONFIG_ANNOTATION_DEF',
    default: 'k8s.amazonaws.com/eniConfig',
    accepted: 'a Kubernetes annotation key',
    meaning:
      "Node annotation whose value names the node's ENIConfig (custom networking); wins over the label.",
    origin: 'AWS VPC CNI',
  },
  {
    name: 'ENABLE_SUBNET_DISCOVERY',
    default: 'true',
    accepted: BOOL,
    meaning:
      'Also create pod ENIs in other subnets of the VPC and AZ tagged kubernetes.io/role/cni=1, choosing the one with the most free addresses.',
    origin: 'AWS VPC CNI',
  },
  {
    name: 'IP_COOLDOWN_PERIOD',
    default: String(DEFAULT_IP_COOLDOWN_SECONDS),
    accepted: SECONDS,
    meaning: 'A released address is not reused, nor counted as free, for this many seconds.',
    origin: 'AWS VPC CNI',
  },
  {
    name: 'DISABLE_METRICS',
    default: 'false',
    accepted: BOOL,
    meaning: 'Turn off the Prometheus endpoint.',
    origin: 'AWS VPC CNI',
  },
  {
    name: 'DISABLE_INTROSPECTION',
    default: 'false',
    accepted: BOOL,
    meaning: 'Turn off the introspection endpoint (/v1/*, /healthz, /readyz).',
    origin: 'AWS VPC CNI',
  },
  {
    name: 'INTROSPECTION_BIND_ADDRESS',
    default: '127.0.0.1:61679',
    accepted: BIND,
    meaning: 'Address of the introspection endpoint.',
    origin: 'AWS VPC CNI',
  },
  {
    name: 'CLUSTER_NAME',
    default: undefined,
    accepted: 'a non-empty string',
    meaning:
      'Tags the ENIs this agent creates with cluster.k8s.amazonaws.com/name; the cluster dimension of CloudWatch metrics.',
    origin: 'AWS VPC CNI',
  },
  {
    name: 'ADDITIONAL_ENI_TAGS',
    default: undefined,
    accepted:
      'a JSON object of string keys to string values, at most 50 tags, keys of 1-128 and values of at most 256 characters, no key starting with k8s.amazonaws.com or aws:',
    meaning: 'Extra tags on the ENIs this agent creates.',
    origin: 'AWS VPC CNI',
  },
  {
    name: 'AWS_EC2_ENDPOINT',
    default: undefined,
    accepted: 'an http:// or https:// URL',
    meaning: 'EC2 endpoint to call instead of the Regional one (VPC endpoints, the simulator).',
    origin: 'AWS VPC CNI',
  },
  {
    name: 'MY_NODE_NAME',
    default: undefined,
    required: true,
    accepted: 'the Kubernetes node name (set it from spec.nodeName with the downward API)',
    meaning: 'The node this agent serves: scopes the pod watch and names the node for ENIConfig lookup.',
    origin: 'AWS VPC CNI',
  },
  {
    name: 'DISABLE_LEAKED_ENI_CLEANUP',
    default: 'false',
    accepted: BOOL,
    meaning: 'Stop looking for, and deleting, ENIs this project created and left unattached.',
    origin: 'AWS VPC CNI',
  },
  {
    name: 'AWS_VPC_K8S_CNI_LOGLEVEL',
    default: 'INFO',
    accepted: 'DEBUG, INFO, WARN, ERROR or FATAL (any case)',
    meaning: 'Level of the JSON logs on stdout.',
    origin: 'AWS VPC CNI',
  },
  {
    name: 'AWS_VPC_ENI_MTU',
    default: '9001',
    accepted: 'an integer from 576 to 9001',
    meaning: "MTU of every ENI's link on the node (the pods' MTU is the conflist's).",
    origin: 'AWS VPC CNI',
  },
  {
    name: 'AWS_VPC_K8S_CNI_EXTERNALSNAT',
    default: 'false',
    accepted: BOOL,
    meaning:
      'Pods keep their own address for destinations outside the VPC and leave by their own ENI (a NAT gateway translates). False: the node SNATs such traffic to its primary address.',
    origin: 'AWS VPC CNI',
  },
  {
    name: 'AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS',
    default: undefined,
    accepted: 'comma-separated IPv4 CIDRs',
    meaning:
      'Destinations outside the VPC that pods reach with their own address (no SNAT), by their own ENI.',
    origin: 'AWS VPC CNI',
  },
  {
    name: 'AWS_VPC_K8S_CNI_RANDOMIZESNAT',
    default: 'prng',
    accepted: 'none, hashrandom or prng',
    meaning:
      'Source port choice of the SNAT rule: prng = fully random (nft fully-random), hashrandom = random, none = sequential.',
    origin: 'AWS VPC CNI',
  },
  // ---- eni-ipam's own ----
  {
    name: 'ENI_IPAM_DISABLE_DATAPATH',
    default: 'false',
    accepted: BOOL,
    meaning:
      "Leave the node's links, route tables, rules and NAT alone (for clusters that bring their own datapath); docs/datapath.md.",
    origin: 'eni-ipam',
  },
  {
    name: 'ENI_IPAM_METRICS_BIND_ADDRESS',
    default: ':61678',
    accepted: BIND,
    meaning: 'Address of the Prometheus endpoint (/metrics).',
    origin: 'eni-ipam',
  },
  {
    name: 'ENI_IPAM_SOCKET',
    default: '/var/run/eni-ipam/ipam.sock',
    accepted: 'an absolute path',
    meaning:
      'Unix socket (mode 0600) on which the CNI plugin reaches the agent; the plugin reads the same variable (docs/cni.md).',
    origin: 'eni-ipam',
  },
  {
    name: 'ENI_IPAM_CHECKPOINT',
    default: '/var/run/eni-ipam/checkpoint.json',
    accepted: 'an absolute path',
    meaning:
      'Durable copy of the assignments, written atomically. On tmpfs (/var/run) on purpose: after a reboot no pod survives and state is rebuilt from EC2.',
    origin: 'eni-ipam',
  },
  {
    name: 'ENI_IPAM_CRI_SOCKET',
    default: '/run/containerd/containerd.sock',
    accepted: 'an absolute path',
    meaning:
      "The container runtime's CRI socket (CRI-O: /var/run/crio/crio.sock). Asked, read-only (ListPodSandbox, PodSandboxStatus), only while addresses whose holder the checkpoint lost are quarantined: a READY sandbox's address goes back to its pod even with the API server unreachable. A runtime that cannot be reached is logged once and never stops the agent (docs/datastore.md).",
    origin: 'eni-ipam',
  },
  {
    name: 'ENI_IPAM_SPOOL',
    default: '/var/run/eni-ipam/release-spool.jsonl',
    accepted: 'an absolute path',
    meaning:
      'Where the CNI plugin records a DEL that could not reach the agent; the agent applies it at start. The plugin reads the same variable (docs/cni.md).',
    origin: 'eni-ipam',
  },
  {
    name: 'ENI_IPAM_ADD_WAIT_SECONDS',
    default: String(DEFAULT_ADD_WAIT_SECONDS),
    accepted: ADD_WAIT_SECONDS,
    meaning:
      'How long a CNI ADD waits for an address on its way before failing with CNI error 11 (try again later).',
    origin: 'eni-ipam',
  },
  {
    name: 'ENI_IPAM_EC2_RESYNC_SECONDS',
    default: String(DEFAULT_EC2_RESYNC_SECONDS),
    accepted: POSITIVE_SECONDS,
    meaning: 'Period of the comparison with the ENIs and addresses EC2 shows.',
    origin: 'eni-ipam',
  },
  {
    name: 'ENI_IPAM_POD_GONE_GRACE_SECONDS',
    default: String(DEFAULT_POD_GONE_GRACE_SECONDS),
    accepted: SECONDS,
    meaning: 'An address whose pod (or KubeVirt VM) is gone is released after this long.',
    origin: 'eni-ipam',
  },
  {
    name: 'ENI_IPAM_LEAKED_ENI_GRACE_SECONDS',
    default: String(DEFAULT_LEAKED_ENI_GRACE_SECONDS),
    accepted: SECONDS,
    meaning: 'An ENI created by this project and left available is deleted after this long.',
    origin: 'eni-ipam',
  },
  {
    name: 'ENI_IPAM_SUBNET_FULL_SKIP_SECONDS',
    default: String(DEFAULT_SUBNET_FULL_SKIP_SECONDS),
    accepted: SECONDS,
    meaning: 'A subnet that answered "insufficient free addresses" is skipped for this long.',
    origin: 'eni-ipam',
  },
  {
    name: 'ENI_IPAM_EC2_RATE_DESCRIBE',
    default: undefined,
    accepted: FRACTION,
    meaning:
      "Fraction of the account's Describe* throttling bucket this agent may use. Unset: 0.1 per node, or 1 (EC2's whole bucket) for the cluster when shared through Redis.",
    origin: 'eni-ipam',
  },
  {
    name: 'ENI_IPAM_EC2_RATE_MUTATE',
    default: undefined,
    accepted: FRACTION,
    meaning:
      "Fraction of the account's bucket for Create/DeleteNetworkInterface, Assign/UnassignPrivateIpAddresses and ModifyNetworkInterfaceAttribute.",
    origin: 'eni-ipam',
  },
  {
    name: 'ENI_IPAM_EC2_RATE_ATTACH',
    default: undefined,
    accepted: FRACTION,
    meaning: "Fraction of the account's Attach/DetachNetworkInterface bucket.",
    origin: 'eni-ipam',
  },
  {
    name: 'ENI_IPAM_EC2_RATE_TAGS',
    default: undefined,
    accepted: FRACTION,
    meaning: "Fraction of the account's CreateTags bucket.",
    origin: 'eni-ipam',
  },
  {
    name: 'EC2_RATE_LIMIT_REDIS_URL',
    default: undefined,
    accepted: 'a redis:// or rediss:// URL',
    meaning:
      'Share the EC2 rate budget among all nodes through this Redis. Unset: each node limits itself alone.',
    origin: 'eni-ipam',
  },
  {
    name: 'ENI_IPAM_POOLS',
    default: undefined,
    accepted:
      'a JSON array of {"name": string, "subnetId": "subnet-...", "securityGroups"?: ["sg-..."]} with distinct names',
    meaning: 'Named address pools, each in exactly one subnet; pods choose one by annotation.',
    origin: 'eni-ipam',
  },
  {
    name: 'ENI_IPAM_POD_ENI_SECURITY_GROUPS',
    default: undefined,
    accepted: 'a comma-separated list of security group ids (sg-...)',
    meaning:
      "Security groups for the ENIs this agent creates. Unset: the primary ENI's groups (or the ENIConfig's with custom networking).",
    origin: 'eni-ipam',
  },
  {
    name: 'ENI_IPAM_IMDS_ENDPOINT',
    default: 'http://169.254.169.254',
    accepted: 'an http:// or https:// URL',
    meaning: 'Instance metadata service (IMDSv2) endpoint.',
    origin: 'eni-ipam',
  },
  {
    name: 'ENI_IPAM_CLOUDWATCH',
    default: 'false',
    accepted: BOOL,
    meaning: 'Publish the key gauges to CloudWatch (PutMetricData, batched, rate-limited).',
    origin: 'eni-ipam',
  },
  {
    name: 'ENI_IPAM_CLOUDWATCH_NAMESPACE',
    default: 'eni-ipam',
    accepted: 'a CloudWatch namespace: 1-255 characters, not starting with AWS/',
    meaning: 'CloudWatch namespace of the published metrics (format eni-ipam).',
    origin: 'eni-ipam',
  },
  {
    name: 'ENI_IPAM_CLOUDWATCH_FORMAT',
    default: 'eni-ipam',
    accepted: 'eni-ipam or cni-metrics-helper',
    meaning:
      "cni-metrics-helper: the AWS VPC CNI's metrics helper's namespace (Kubernetes), dimension (CLUSTER_ID = CLUSTER_NAME) and gauge names, so its dashboards keep working. eni-ipam: ENI_IPAM_CLOUDWATCH_NAMESPACE, ClusterName and every key gauge.",
    origin: 'eni-ipam',
  },
  {
    name: 'ENI_IPAM_CLOUDWATCH_AGGREGATION',
    default: 'instance',
    accepted: 'instance or cluster',
    meaning:
      'instance: one metric per node (InstanceId dimension; cost grows with nodes). cluster: all nodes publish under the cluster only and CloudWatch aggregates (Sum, Maximum, SampleCount); needs CLUSTER_NAME (docs/observability.md).',
    origin: 'eni-ipam',
  },
  // ---- Standard names ----
  {
    name: 'AWS_REGION',
    default: undefined,
    accepted: 'a Region name such as us-east-1',
    meaning: "Region of the EC2 and CloudWatch clients. Unset: the instance's Region from IMDS.",
    origin: 'standard',
  },
  {
    name: 'KUBECONFIG',
    default: undefined,
    accepted: 'a path to a kubeconfig file',
    meaning: 'Kubeconfig to reach the API server. Unset: the in-cluster service account.',
    origin: 'standard',
  },
] as const satisfies readonly ConfigVariable[];

export type ConfigVariableName = (typeof CONFIG_VARIABLES)[number]['name'];

const BY_NAME: ReadonlyMap<string, ConfigVariable> = new Map(CONFIG_VARIABLES.map((v) => [v.name, v]));

export function configVariable(name: ConfigVariableName): ConfigVariable {
  const found = BY_NAME.get(name);
  // Unreachable for a ConfigVariableName; the check keeps noUncheckedIndexedAccess honest.
  if (!found) throw new Error(`unknown configuration variable ${name}`);
  return found;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|');
}

/**
 * The table of variables as Markdown, for the README and docs/configuration.md; a test checks that
 * the doc contains exactly this table, so the doc cannot drift from the code.
 */
export function configTableMarkdown(): string {
  const rows = CONFIG_VARIABLES.map((v: ConfigVariable) => {
    const shown = v.default === undefined ? (v.required ? '(required)' : '(unset)') : `\`${v.default}\``;
    return `| \`${v.name}\` | ${shown} | ${cell(v.meaning)} Accepted: ${cell(v.accepted)}. | ${v.origin} |`;
  });
  return ['| Variable | Default | Meaning | Origin |', '| --- | --- | --- | --- |', ...rows].join('\n');
}
