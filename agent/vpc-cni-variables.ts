/**
 * The AWS VPC CNI's configuration variables (its README's table and aws-node's manifest), so that a manifest carried over
 * from aws-node is never half-read in silence: every one that eni-ipam does not implement and that
 * is set is named in a warning at start-up.
 */
import { CONFIG_VARIABLES } from './config-table.js';

export const VPC_CNI_VARIABLES: readonly string[] = [
  'ADDITIONAL_ENI_TAGS',
  'ANNOTATE_POD_IP',
  'AWS_EC2_ENDPOINT',
  'AWS_EXTERNAL_SERVICE_CIDRS',
  'AWS_MANAGE_ENIS_NON_SCHEDULABLE',
  'AWS_VPC_CNI_NODE_PORT_SUPPORT',
  'AWS_VPC_ENI_MTU',
  'AWS_VPC_K8S_CNI_CONFIGURE_RPFILTER',
  'AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG',
  'AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS',
  'AWS_VPC_K8S_CNI_EXTERNALSNAT',
  'AWS_VPC_K8S_CNI_LOGLEVEL',
  'AWS_VPC_K8S_CNI_LOG_FILE',
  'AWS_VPC_K8S_CNI_RANDOMIZESNAT',
  'AWS_VPC_K8S_CNI_VETHPREFIX',
  'AWS_VPC_K8S_PLUGIN_LOG_FILE',
  'AWS_VPC_K8S_PLUGIN_LOG_LEVEL',
  'CLUSTER_ENDPOINT',
  'CLUSTER_NAME',
  'DISABLE_INTROSPECTION',
  'DISABLE_LEAKED_ENI_CLEANUP',
  'DISABLE_METRICS',
  'DISABLE_NETWORK_RESOURCE_PROVISIONING',
  'DISABLE_POD_V6',
  'DISABLE_TCP_EARLY_DEMUX',
  'ENABLE_BANDWIDTH_PLUGIN',
  'ENABLE_IMDS_ONLY_MODE',
  'ENABLE_IPv4',
  'ENABLE_IPv6',
  'ENABLE_MULTI_NIC',
  'ENABLE_NFTABLES',
  'ENABLE_POD_ENI',
  'ENABLE_PREFIX_DELEGATION',
  'ENABLE_SUBNET_DISCOVERY',
  'ENABLE_V4_EGRESS',
  'ENABLE_V6_EGRESS',
  'ENI_CONFIG_ANNOTATION_DEF',
  'ENI_CONFIG_LABEL_DEF',
  'HOST_CNI_BIN_PATH',
  'HOST_CNI_CONFDIR_PATH',
  'INTROSPECTION_BIND_ADDRESS',
  'IP_COOLDOWN_PERIOD',
  'MAX_ENI',
  'MINIMUM_IP_TARGET',
  // Set by aws-node's DaemonSet from spec.nodeName (not in the README's table).
  'MY_NODE_NAME',
  'NETWORK_POLICY_ENFORCING_MODE',
  'POD_MTU',
  'POD_SECURITY_GROUP_ENFORCING_MODE',
  'VPC_CNI_VERSION',
  'WARM_ENI_TARGET',
  'WARM_IP_TARGET',
  'WARM_PREFIX_TARGET',
];

/** The VPC CNI variables set in `env` (non-empty) that eni-ipam does not read, sorted. */
export function ignoredVpcCniVariables(env: Readonly<Record<string, string | undefined>>): string[] {
  const read = new Set<string>(CONFIG_VARIABLES.map((v) => v.name));
  return VPC_CNI_VARIABLES.filter((name) => !read.has(name) && (env[name] ?? '') !== '').sort();
}
