import { describe, expect, it } from 'vitest';
import { loadConfig, type AgentConfig } from '../../agent/config.js';
import { InvalidConfigError } from '../../agent/errors.js';
import { CONFIG_VARIABLES } from '../../agent/config-table.js';
import { ConfigError } from '../../ipam/errors.js';
import { parseWarmTargets } from '../../agent/config-warm-targets.js';

const NODE = { MY_NODE_NAME: 'ip-10-0-1-5.ec2.internal' };

function issuesOf(env: Record<string, string | undefined>): InvalidConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof InvalidConfigError) return err;
    throw err;
  }
  throw new Error(`expected an InvalidConfigError for ${JSON.stringify(env)}`);
}

function isDeepFrozen(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  return Object.isFrozen(value) && Object.values(value).every(isDeepFrozen);
}

describe('loadConfig defaults', () => {
  const config = loadConfig(NODE);

  it('uses the AWS VPC CNI defaults', () => {
    expect(config.warmTargets).toEqual({
      warmEniTarget: 1,
      warmIpTarget: undefined,
      minimumIpTarget: undefined,
      warmPrefixTarget: undefined,
      maxEni: undefined,
      prefixDelegation: false,
    });
    expect(config.customNetworking).toBe(false);
    expect(config.eniConfigLabel).toBe('k8s.amazonaws.com/eniConfig');
    expect(config.subnetDiscovery).toBe(true);
    expect(config.ipCooldownMs).toBe(30_000);
    expect(config.metrics).toEqual({ enabled: true, bind: { host: undefined, port: 61678 } });
    expect(config.introspection).toEqual({ enabled: true, bind: { host: '127.0.0.1', port: 61679 } });
    expect(config.leakedEniCleanup).toBe(true);
    expect(config.logLevel).toBe('info');
    expect(config.additionalEniTags).toEqual({});
    expect(config.clusterName).toBeUndefined();
  });

  it("uses eni-ipam's defaults for its own settings", () => {
    expect(config.addWaitMs).toBe(20_000);
    expect(config.ec2ResyncMs).toBe(60_000);
    expect(config.podGoneGraceMs).toBe(60_000);
    expect(config.leakedEniGraceMs).toBe(300_000);
    expect(config.subnetFullSkipMs).toBe(180_000);
    // Unset: the provider's defaults apply (a tenth of each bucket per node, half when shared).
    expect(config.aws.rateFractions).toEqual({});
    expect(config.aws.imdsEndpoint).toBe('http://169.254.169.254');
    expect(config.aws.region).toBeUndefined();
    expect(config.aws.rateLimitRedisUrl).toBeUndefined();
    expect(config.cloudWatch).toEqual({
      enabled: false,
      namespace: 'eni-ipam',
      format: 'eni-ipam',
      aggregation: 'instance',
    });
    expect(config.kubeconfig).toBeUndefined();
    expect(config.pools).toEqual([]);
    expect(config.podEniSecurityGroups).toBeUndefined();
    expect(config.socketPath).toBe('/var/run/eni-ipam/ipam.sock');
  });

  it('is deeply frozen', () => {
    expect(isDeepFrozen(config)).toBe(true);
    expect(() => {
      (config as { nodeName: string }).nodeName = 'other';
    }).toThrow(TypeError);
  });

  it('gives the same config when every default is written out explicitly', () => {
    const explicit: Record<string, string> = { ...NODE };
    for (const v of CONFIG_VARIABLES) if (v.default !== undefined) explicit[v.name] = v.default;
    expect(loadConfig(explicit)).toEqual(config);
  });

  it("agrees with parseWarmTargets' defaults", () => {
    expect(config.warmTargets).toEqual(parseWarmTargets({}));
  });

  it('treats an empty string as unset', () => {
    const empty: Record<string, string> = { ...NODE };
    for (const v of CONFIG_VARIABLES) if (v.name !== 'MY_NODE_NAME') empty[v.name] = '';
    expect(loadConfig(empty)).toEqual(config);
  });
});

describe('loadConfig values', () => {
  it('reads every kind of value', () => {
    const c: AgentConfig = loadConfig({
      ...NODE,
      WARM_IP_TARGET: '5',
      MINIMUM_IP_TARGET: '10',
      MAX_ENI: '2',
      ENABLE_PREFIX_DELEGATION: 'true',
      AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: 'TRUE',
      ENI_CONFIG_LABEL_DEF: 'topology.kubernetes.io/zone',
      ENABLE_SUBNET_DISCOVERY: '0',
      IP_COOLDOWN_PERIOD: '0',
      DISABLE_METRICS: 't',
      INTROSPECTION_BIND_ADDRESS: '[::1]:9000',
      ENI_IPAM_METRICS_BIND_ADDRESS: '0.0.0.0:9100',
      CLUSTER_NAME: 'prod',
      ADDITIONAL_ENI_TAGS: '{"team":"net","cost-center":"42"}',
      AWS_EC2_ENDPOINT: 'http://127.0.0.1:4566',
      DISABLE_LEAKED_ENI_CLEANUP: 'True',
      AWS_VPC_K8S_CNI_LOGLEVEL: 'debug',
      ENI_IPAM_ADD_WAIT_SECONDS: '5',
      ENI_IPAM_EC2_RATE_MUTATE: '0.25',
      EC2_RATE_LIMIT_REDIS_URL: 'rediss://redis.kube-system:6379/0',
      ENI_IPAM_POOLS:
        '[{"name":"db","subnetId":"subnet-0123456789abcdef0","securityGroups":["sg-01234567"]}]',
      ENI_IPAM_POD_ENI_SECURITY_GROUPS: 'sg-01234567, sg-0123456789abcdef0',
      AWS_REGION: 'eu-west-1',
      ENI_IPAM_CLOUDWATCH: 'true',
      ENI_IPAM_CLOUDWATCH_NAMESPACE: 'Platform/CNI',
      ENI_IPAM_CLOUDWATCH_FORMAT: 'cni-metrics-helper',
      ENI_IPAM_CLOUDWATCH_AGGREGATION: 'cluster',
      KUBECONFIG: '/etc/kube/config',
    });
    expect(c.warmTargets).toMatchObject({
      warmIpTarget: 5,
      minimumIpTarget: 10,
      maxEni: 2,
      prefixDelegation: true,
    });
    expect(c.customNetworking).toBe(true);
    expect(c.eniConfigLabel).toBe('topology.kubernetes.io/zone');
    expect(c.subnetDiscovery).toBe(false);
    expect(c.ipCooldownMs).toBe(0);
    expect(c.metrics).toEqual({ enabled: false, bind: { host: '0.0.0.0', port: 9100 } });
    expect(c.introspection.bind).toEqual({ host: '::1', port: 9000 });
    expect(c.clusterName).toBe('prod');
    expect(c.additionalEniTags).toEqual({ team: 'net', 'cost-center': '42' });
    expect(c.aws.ec2Endpoint).toBe('http://127.0.0.1:4566');
    expect(c.leakedEniCleanup).toBe(false);
    expect(c.logLevel).toBe('debug');
    expect(c.addWaitMs).toBe(5000);
    expect(c.aws.rateFractions.mutate).toBe(0.25);
    expect(c.aws.rateLimitRedisUrl).toBe('rediss://redis.kube-system:6379/0');
    expect(c.pools).toEqual([
      { name: 'db', subnetId: 'subnet-0123456789abcdef0', securityGroups: ['sg-01234567'] },
    ]);
    expect(c.podEniSecurityGroups).toEqual(['sg-01234567', 'sg-0123456789abcdef0']);
    expect(c.aws.region).toBe('eu-west-1');
    expect(c.cloudWatch).toEqual({
      enabled: true,
      namespace: 'Platform/CNI',
      format: 'cni-metrics-helper',
      aggregation: 'cluster',
    });
    expect(c.kubeconfig).toBe('/etc/kube/config');
  });
});

describe('loadConfig errors', () => {
  it.each([
    ['WARM_IP_TARGET', 'abc'],
    ['WARM_IP_TARGET', '-1'],
    ['WARM_ENI_TARGET', '1.5'],
    ['MAX_ENI', '0'],
    ['ENABLE_PREFIX_DELEGATION', 'yes'],
    ['IP_COOLDOWN_PERIOD', '-5'],
    ['IP_COOLDOWN_PERIOD', '30s'],
    ['DISABLE_METRICS', 'nope'],
    ['INTROSPECTION_BIND_ADDRESS', '127.0.0.1'],
    ['INTROSPECTION_BIND_ADDRESS', '127.0.0.1:70000'],
    ['INTROSPECTION_BIND_ADDRESS', '300.1.1.1:80'],
    ['ENI_IPAM_METRICS_BIND_ADDRESS', 'host:port'],
    ['ADDITIONAL_ENI_TAGS', '{"team":'],
    ['ADDITIONAL_ENI_TAGS', '["a"]'],
    ['ADDITIONAL_ENI_TAGS', '{"n":1}'],
    ['ADDITIONAL_ENI_TAGS', '{"k8s.amazonaws.com/foo":"x"}'],
    ['ADDITIONAL_ENI_TAGS', '{"aws:cloudformation:stack":"x"}'],
    ['AWS_EC2_ENDPOINT', 'not a url'],
    ['AWS_EC2_ENDPOINT', 'ftp://ec2.local'],
    ['EC2_RATE_LIMIT_REDIS_URL', 'http://redis:6379'],
    ['AWS_VPC_K8S_CNI_LOGLEVEL', 'TRACE'],
    ['ENI_IPAM_EC2_RATE_DESCRIBE', '0'],
    ['ENI_IPAM_EC2_RATE_DESCRIBE', '1.5'],
    ['ENI_IPAM_EC2_RESYNC_SECONDS', '0'],
    ['ENI_IPAM_SOCKET', 'relative/agent.sock'],
    ['ENI_IPAM_POOLS', '{"name":"db"}'],
    [
      'ENI_IPAM_POOLS',
      '[{"name":"db","subnetId":"subnet-0123456789abcdef0"},{"name":"db","subnetId":"subnet-01234567"}]',
    ],
    ['ENI_IPAM_POOLS', '[{"name":"db","subnetId":"sg-01234567"}]'],
    ['ENI_IPAM_POD_ENI_SECURITY_GROUPS', 'sg-01234567,default'],
    ['ENI_CONFIG_LABEL_DEF', 'bad label!'],
    ['AWS_REGION', 'Europe'],
    ['ENI_IPAM_CLOUDWATCH_NAMESPACE', 'AWS/EC2'],
    ['ENI_IPAM_CLOUDWATCH_FORMAT', 'cloudwatch-agent'],
    ['ENI_IPAM_CLOUDWATCH_AGGREGATION', 'node'],
    ['WARM_IP_TARGET', ' 5'],
  ])('%s=%j stops start-up naming the variable, the value and what is accepted', (name, value) => {
    const err = issuesOf({ ...NODE, [name]: value });
    expect(err.issues).toHaveLength(1);
    const issue = err.issues[0]!;
    expect(issue.variable).toBe(name);
    expect(issue.value).toBe(value);
    expect(issue.accepted.length).toBeGreaterThan(0);
    expect(err.message).toContain(name);
    expect(err.message).toContain(JSON.stringify(value));
    expect(err.message).toContain(issue.accepted);
  });

  it.each([
    ['ENI_IPAM_CLOUDWATCH_FORMAT', 'cni-metrics-helper'],
    ['ENI_IPAM_CLOUDWATCH_AGGREGATION', 'cluster'],
  ])('publishing with %s=%s needs CLUSTER_NAME, and says so', (name, value) => {
    const err = issuesOf({ ...NODE, ENI_IPAM_CLOUDWATCH: 'true', [name]: value });
    expect(err.issues.map((i) => i.variable)).toEqual(['CLUSTER_NAME']);
    expect(err.message).toContain(`${name}=${value}`);
    // With CloudWatch off the setting is inert, and with a cluster name it is fine.
    expect(() => loadConfig({ ...NODE, [name]: value })).not.toThrow();
    expect(() =>
      loadConfig({ ...NODE, ENI_IPAM_CLOUDWATCH: 'true', CLUSTER_NAME: 'prod', [name]: value }),
    ).not.toThrow();
  });

  it('reports every invalid variable at once', () => {
    const err = issuesOf({
      WARM_IP_TARGET: 'abc',
      MINIMUM_IP_TARGET: '-1',
      ADDITIONAL_ENI_TAGS: '{bad',
      INTROSPECTION_BIND_ADDRESS: 'nowhere',
      AWS_EC2_ENDPOINT: '::',
    });
    expect(err.issues.map((i) => i.variable).sort()).toEqual(
      [
        'ADDITIONAL_ENI_TAGS',
        'AWS_EC2_ENDPOINT',
        'INTROSPECTION_BIND_ADDRESS',
        'MINIMUM_IP_TARGET',
        'MY_NODE_NAME',
        'WARM_IP_TARGET',
      ].sort(),
    );
    for (const issue of err.issues) expect(err.message).toContain(issue.variable);
    expect(err).toBeInstanceOf(ConfigError);
  });

  it('requires MY_NODE_NAME', () => {
    const err = issuesOf({});
    expect(err.issues).toEqual([expect.objectContaining({ variable: 'MY_NODE_NAME', value: undefined })]);
    expect(err.message).toContain('MY_NODE_NAME is not set');
  });

  it('says why a reserved tag key is refused', () => {
    const err = issuesOf({ ...NODE, ADDITIONAL_ENI_TAGS: '{"k8s.amazonaws.com/owner":"me"}' });
    expect(err.message).toContain('reserved prefix k8s.amazonaws.com');
  });
});

describe('the table of variables', () => {
  it('has distinct names, a meaning and an origin for each', () => {
    const names = CONFIG_VARIABLES.map((v) => v.name);
    expect(new Set(names).size).toBe(names.length);
    for (const v of CONFIG_VARIABLES) {
      expect(v.meaning.length).toBeGreaterThan(10);
      expect(['AWS VPC CNI', 'eni-ipam', 'standard']).toContain(v.origin);
      // EC2_RATE_LIMIT_REDIS_URL keeps the name the shared-budget design gave it.
      if (v.origin === 'eni-ipam' && v.name !== 'EC2_RATE_LIMIT_REDIS_URL')
        expect(v.name.startsWith('ENI_IPAM_')).toBe(true);
    }
  });

  it('lists every variable the issue requires with the AWS VPC CNI names', () => {
    const names = new Set<string>(CONFIG_VARIABLES.map((v) => v.name));
    for (const name of [
      'WARM_ENI_TARGET',
      'WARM_IP_TARGET',
      'MINIMUM_IP_TARGET',
      'WARM_PREFIX_TARGET',
      'MAX_ENI',
      'ENABLE_PREFIX_DELEGATION',
      'AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG',
      'ENI_CONFIG_LABEL_DEF',
      'ENI_CONFIG_ANNOTATION_DEF',
      'ENABLE_SUBNET_DISCOVERY',
      'IP_COOLDOWN_PERIOD',
      'DISABLE_METRICS',
      'DISABLE_INTROSPECTION',
      'INTROSPECTION_BIND_ADDRESS',
      'CLUSTER_NAME',
      'ADDITIONAL_ENI_TAGS',
      'AWS_EC2_ENDPOINT',
      'MY_NODE_NAME',
      'DISABLE_LEAKED_ENI_CLEANUP',
      'AWS_VPC_K8S_CNI_LOGLEVEL',
    ]) {
      expect(names.has(name), name).toBe(true);
    }
  });

  it('a variable set to a value other than its default changes the config (no variable is ignored)', () => {
    const base = loadConfig(NODE);
    const samples: Record<string, string> = {
      WARM_ENI_TARGET: '2',
      WARM_IP_TARGET: '3',
      MINIMUM_IP_TARGET: '4',
      WARM_PREFIX_TARGET: '1',
      MAX_ENI: '2',
      ENABLE_PREFIX_DELEGATION: 'true',
      AWS_VPC_K8S_CNI_CUSTOM_NETWORK_CFG: 'true',
      ENI_CONFIG_LABEL_DEF: 'example.com/eni',
      ENI_CONFIG_ANNOTATION_DEF: 'example.com/eni-annotation',
      ENABLE_SUBNET_DISCOVERY: 'false',
      IP_COOLDOWN_PERIOD: '7',
      DISABLE_METRICS: 'true',
      DISABLE_INTROSPECTION: 'true',
      INTROSPECTION_BIND_ADDRESS: ':1234',
      CLUSTER_NAME: 'c',
      ADDITIONAL_ENI_TAGS: '{"a":"b"}',
      AWS_EC2_ENDPOINT: 'https://ec2.example.com',
      MY_NODE_NAME: 'other',
      DISABLE_LEAKED_ENI_CLEANUP: 'true',
      AWS_VPC_K8S_CNI_LOGLEVEL: 'ERROR',
      AWS_VPC_ENI_MTU: '1500',
      AWS_VPC_K8S_CNI_EXTERNALSNAT: 'true',
      AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS: '192.168.0.0/16',
      AWS_VPC_K8S_CNI_RANDOMIZESNAT: 'hashrandom',
      ENI_IPAM_DISABLE_DATAPATH: 'true',
      ENI_IPAM_METRICS_BIND_ADDRESS: ':1235',
      ENI_IPAM_SOCKET: '/tmp/a.sock',
      ENI_IPAM_CHECKPOINT: '/tmp/c.json',
      ENI_IPAM_SPOOL: '/tmp/s.jsonl',
      ENI_IPAM_CRI_SOCKET: '/var/run/crio/crio.sock',
      ENI_IPAM_ADD_WAIT_SECONDS: '1',
      ENI_IPAM_EC2_RESYNC_SECONDS: '2',
      ENI_IPAM_POD_GONE_GRACE_SECONDS: '3',
      ENI_IPAM_LEAKED_ENI_GRACE_SECONDS: '4',
      ENI_IPAM_SUBNET_FULL_SKIP_SECONDS: '5',
      ENI_IPAM_EC2_RATE_DESCRIBE: '0.5',
      ENI_IPAM_EC2_RATE_MUTATE: '0.5',
      ENI_IPAM_EC2_RATE_ATTACH: '0.5',
      ENI_IPAM_EC2_RATE_TAGS: '0.5',
      EC2_RATE_LIMIT_REDIS_URL: 'redis://r:6379',
      ENI_IPAM_POOLS: '[{"name":"p","subnetId":"subnet-01234567"}]',
      ENI_IPAM_POD_ENI_SECURITY_GROUPS: 'sg-01234567',
      ENI_IPAM_IMDS_ENDPOINT: 'http://127.0.0.1:1338',
      ENI_IPAM_CLOUDWATCH: 'true',
      ENI_IPAM_CLOUDWATCH_NAMESPACE: 'x',
      ENI_IPAM_CLOUDWATCH_FORMAT: 'cni-metrics-helper',
      ENI_IPAM_CLOUDWATCH_AGGREGATION: 'cluster',
      AWS_REGION: 'us-west-2',
      KUBECONFIG: '/k',
    };
    for (const v of CONFIG_VARIABLES) {
      const sample = samples[v.name];
      expect(sample, `a sample value for ${v.name}`).toBeDefined();
      expect(loadConfig({ ...NODE, [v.name]: sample }), v.name).not.toEqual(base);
    }
  });
});

describe('duration bounds', () => {
  const durations = [
    'IP_COOLDOWN_PERIOD',
    'ENI_IPAM_EC2_RESYNC_SECONDS',
    'ENI_IPAM_POD_GONE_GRACE_SECONDS',
    'ENI_IPAM_LEAKED_ENI_GRACE_SECONDS',
    'ENI_IPAM_SUBNET_FULL_SKIP_SECONDS',
  ];
  for (const name of durations) {
    it(`${name} accepts 7 days and refuses more, or a value that overflows a timer`, () => {
      expect(() => loadConfig({ ...NODE, [name]: '604800' })).not.toThrow();
      for (const value of ['604801', '2147484', String(Number.MAX_SAFE_INTEGER)]) {
        expect(() => loadConfig({ ...NODE, [name]: value }), `${name}=${value}`).toThrow(/above 604800/);
      }
    });
  }
  it('ENI_IPAM_ADD_WAIT_SECONDS is bounded by the plugin’s longest ADD timeout (600 s)', () => {
    expect(loadConfig({ ...NODE, ENI_IPAM_ADD_WAIT_SECONDS: '600' }).addWaitMs).toBe(600_000);
    expect(() => loadConfig({ ...NODE, ENI_IPAM_ADD_WAIT_SECONDS: '601' })).toThrow(/above 600/);
    expect(() => loadConfig({ ...NODE, ENI_IPAM_ADD_WAIT_SECONDS: String(Number.MAX_SAFE_INTEGER) })).toThrow(
      /ENI_IPAM_ADD_WAIT_SECONDS/,
    );
  });
});
