import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_VARIABLES, configVariable, type ConfigVariable } from '../../agent/config-table.js';
import { ENICONFIG_GROUP, ENICONFIG_VERSION, parseEniConfig } from '../../agent/kube/eni-config.js';
import { configVersion, decodeConfig, readNetConf } from '../../cni/netconf.js';
import { PLUGIN_NAME } from '../../scripts/build-cni-plugin.js';
import {
  DEPLOY_DIR,
  MANIFEST_FILES,
  REPO_ROOT,
  findObject,
  loadManifests,
  manifestFilesInApplyOrder,
  parseYamlFile,
  type KubeObject,
} from './manifests.js';

const manifests = loadManifests();

describe('deploy/ manifests', () => {
  it('are all listed, in apply order, by the kustomization', () => {
    const kustomization = parseYamlFile(join(DEPLOY_DIR, 'kustomization.yaml'))[0] as { resources: string[] };
    expect(kustomization.resources).toEqual([...MANIFEST_FILES]);
    const yamlFiles = readdirSync(DEPLOY_DIR).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
    expect(yamlFiles.sort()).toEqual([...MANIFEST_FILES].sort());
    expect(manifestFilesInApplyOrder()).toEqual(MANIFEST_FILES.map((f) => join(DEPLOY_DIR, f)));
  });

  it('define what they use before it is used', () => {
    const order = manifests.map((m) => m.object.kind);
    expect(order.indexOf('CustomResourceDefinition')).toBe(0);
    expect(order.indexOf('ServiceAccount')).toBeLessThan(order.indexOf('DaemonSet'));
    expect(order.indexOf('ClusterRoleBinding')).toBeLessThan(order.indexOf('DaemonSet'));
    expect(order.indexOf('ConfigMap')).toBeLessThan(order.indexOf('DaemonSet'));
  });

  it('put namespaced objects in kube-system and label what they create', () => {
    for (const { file, object } of manifests) {
      const clusterScoped = ['CustomResourceDefinition', 'ClusterRole', 'ClusterRoleBinding'].includes(
        object.kind,
      );
      expect(object.metadata.namespace, `${file} ${object.kind}`).toBe(
        clusterScoped ? undefined : 'kube-system',
      );
      // The CRD is shared with the AWS VPC CNI and stays unlabelled, as its own is.
      if (object.kind !== 'CustomResourceDefinition') {
        expect(object.metadata.labels?.['app.kubernetes.io/name'], `${file} ${object.kind}`).toBe('eni-ipam');
      }
    }
  });
});

interface Crd extends KubeObject {
  spec: {
    group: string;
    scope: string;
    names: { kind: string; plural: string; singular: string };
    versions: {
      name: string;
      served: boolean;
      storage: boolean;
      schema: { openAPIV3Schema: { properties: { spec: SchemaNode } } };
    }[];
  };
}

interface SchemaNode {
  type: string;
  required?: string[];
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
}

describe('deploy/eniconfig-crd.yaml', () => {
  const crd = findObject(manifests, 'CustomResourceDefinition') as Crd;

  it('is the AWS VPC CNI ENIConfig, where the agent reads it', () => {
    expect(crd.metadata.name).toBe(`eniconfigs.${ENICONFIG_GROUP}`);
    expect(crd.spec.group).toBe(ENICONFIG_GROUP);
    expect(crd.spec.scope).toBe('Cluster');
    expect(crd.spec.names).toMatchObject({ kind: 'ENIConfig', plural: 'eniconfigs', singular: 'eniconfig' });
    expect(crd.spec.versions.map((v) => [v.name, v.served, v.storage])).toEqual([
      [ENICONFIG_VERSION, true, true],
    ]);
  });

  it('has the VPC CNI schema: spec.subnet required, spec.securityGroups a list of strings', () => {
    const spec = crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec;
    expect(spec.type).toBe('object');
    expect(spec.required).toEqual(['subnet']);
    expect(spec.properties?.['subnet']?.type).toBe('string');
    expect(spec.properties?.['securityGroups']).toMatchObject({ type: 'array', items: { type: 'string' } });
    expect(Object.keys(spec.properties ?? {}).sort()).toEqual(['securityGroups', 'subnet']);
  });

  it('stores objects the agent reads', () => {
    const existing = {
      apiVersion: `${ENICONFIG_GROUP}/${ENICONFIG_VERSION}`,
      kind: 'ENIConfig',
      metadata: { name: 'us-east-1a' },
      spec: { subnet: 'subnet-0a1b2c3d4e5f60718', securityGroups: ['sg-0123456789abcdef0'] },
    };
    expect(parseEniConfig('us-east-1a', existing)).toEqual({
      name: 'us-east-1a',
      subnet: 'subnet-0a1b2c3d4e5f60718',
      securityGroups: ['sg-0123456789abcdef0'],
    });
  });
});

describe('the conflist', () => {
  const text = readFileSync(join(DEPLOY_DIR, 'conflist', '10-eni-ipam.conflist'), 'utf8');
  const conflist = JSON.parse(text) as {
    cniVersion: string;
    name: string;
    plugins: Record<string, unknown>[];
  };

  it('is the one the ConfigMap installs', () => {
    const configMap = findObject(manifests, 'ConfigMap', 'eni-ipam-cni-config') as KubeObject & {
      data: Record<string, string>;
    };
    expect(Object.keys(configMap.data)).toEqual(['10-eni-ipam.conflist']);
    expect(JSON.parse(configMap.data['10-eni-ipam.conflist']!)).toEqual(conflist);
  });

  it('chains ptp, with eni-ipam as its IPAM, and portmap, in CNI 1.0.0', () => {
    expect(conflist.cniVersion).toBe('1.0.0');
    expect(conflist.plugins.map((p) => p['type'])).toEqual(['ptp', 'portmap']);
    expect((conflist.plugins[0]!['ipam'] as { type: string }).type).toBe(PLUGIN_NAME);
    expect(conflist.plugins[1]!['capabilities']).toEqual({ portMappings: true });
  });

  it('points the plugin at the socket and spool of the agent', () => {
    // What the IPAM plugin receives: its main plugin's config with the network's name and version.
    const stdin = JSON.stringify({
      ...conflist.plugins[0],
      name: conflist.name,
      cniVersion: conflist.cniVersion,
    });
    const raw = decodeConfig(stdin);
    const conf = readNetConf(raw, configVersion(raw), {});
    expect(conf.socketPath).toBe(configVariable('ENI_IPAM_SOCKET').default);
    expect(conf.spoolPath).toBe(configVariable('ENI_IPAM_SPOOL').default);
  });
});

describe('deploy/iam/', () => {
  const iam = (file: string): unknown => JSON.parse(readFileSync(join(DEPLOY_DIR, 'iam', file), 'utf8'));

  interface Statement {
    Action: string | string[];
    Condition?: Record<string, Record<string, string>>;
  }

  it('allows exactly the CloudWatch actions the agent sends, into its default namespace', () => {
    const sent = new Set<string>();
    for (const file of readdirSync(join(REPO_ROOT, 'provider'), { recursive: true, encoding: 'utf8' })) {
      if (!file.endsWith('.ts')) continue;
      const source = readFileSync(join(REPO_ROOT, 'provider', file), 'utf8');
      if (!source.includes('@aws-sdk/client-cloudwatch')) continue;
      for (const match of source.matchAll(/new\s+(\w+)Command\s*\(/g)) sent.add(`cloudwatch:${match[1]!}`);
    }
    const policy = iam('cloudwatch-policy.json') as { Statement: Statement[] };
    const allowed = policy.Statement.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
    expect(allowed.sort()).toEqual([...sent].sort());
    expect(policy.Statement[0]!.Condition).toEqual({
      StringEquals: { 'cloudwatch:namespace': configVariable('ENI_IPAM_CLOUDWATCH_NAMESPACE').default },
    });
  });

  it("trusts the agent's service account for IRSA", () => {
    const account = findObject(manifests, 'ServiceAccount');
    const trust = iam('trust-policy-irsa.json') as { Statement: Statement[] };
    const conditions = Object.entries(trust.Statement[0]!.Condition!['StringEquals']!);
    expect(conditions.find(([k]) => k.endsWith(':sub'))?.[1]).toBe(
      `system:serviceaccount:${account.metadata.namespace ?? ''}:${account.metadata.name}`,
    );
    expect(iam('trust-policy-pod-identity.json')).toMatchObject({
      Statement: [
        { Principal: { Service: 'pods.eks.amazonaws.com' }, Action: ['sts:AssumeRole', 'sts:TagSession'] },
      ],
    });
  });
});

describe('docs/install-on-eks.md', () => {
  const doc = readFileSync(join(REPO_ROOT, 'docs', 'install-on-eks.md'), 'utf8');

  it("lists as carried over exactly the config table's AWS VPC CNI variables", () => {
    const start = doc.indexOf('<!-- carried-over:start -->');
    const end = doc.indexOf('<!-- carried-over:end -->');
    expect(start).toBeGreaterThan(0);
    expect(end).toBeGreaterThan(start);
    const listed = [...doc.slice(start, end).matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1]!);
    const fromVpcCni = (CONFIG_VARIABLES as readonly ConfigVariable[])
      .filter((v) => v.origin === 'AWS VPC CNI')
      .map((v) => v.name);
    expect(listed.sort()).toEqual(fromVpcCni.sort());
  });

  it('describes every manifest it installs', () => {
    for (const file of MANIFEST_FILES) expect(doc).toContain(`deploy/${file}`);
  });
});
