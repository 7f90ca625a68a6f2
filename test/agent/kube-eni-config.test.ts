import { InvalidEniConfigError } from '../../agent/errors.js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  eniConfigCandidates,
  resolveEniConfig,
  KubeEniConfigSource,
  type NodeFacts,
} from '../../agent/kube/eni-config.js';
import { kubeConfigForServer } from '../../agent/kube/kubeconfig.js';
import { FakeApiServer } from './kube-fake-api-server.js';

const ENICONFIGS = '/apis/crd.k8s.amazonaws.com/v1alpha1/eniconfigs';

let server: FakeApiServer;
let source: KubeEniConfigSource;

beforeEach(async () => {
  server = new FakeApiServer();
  await server.start();
  source = new KubeEniConfigSource(kubeConfigForServer(server.url));
});

afterEach(async () => {
  await server.stop();
});

function node(name: string, labels: Record<string, string>): void {
  server.setObject(`/api/v1/nodes/${name}`, { apiVersion: 'v1', kind: 'Node', metadata: { name, labels } });
}

function eniConfig(name: string, spec: Record<string, unknown>): void {
  server.setObject(`${ENICONFIGS}/${name}`, {
    apiVersion: 'crd.k8s.amazonaws.com/v1alpha1',
    kind: 'ENIConfig',
    metadata: { name },
    spec,
  });
}

describe('KubeEniConfigSource', () => {
  it("reads the node's labels and availability zone", async () => {
    node('n1', { 'topology.kubernetes.io/zone': 'us-east-1a', 'k8s.amazonaws.com/eniConfig': 'pods-a' });
    expect(await source.node('n1')).toEqual({
      name: 'n1',
      labels: { 'topology.kubernetes.io/zone': 'us-east-1a', 'k8s.amazonaws.com/eniConfig': 'pods-a' },
      availabilityZone: 'us-east-1a',
      annotations: {},
    });
  });

  it("reads the kubelet's max pods from status.capacity.pods", async () => {
    server.setObject('/api/v1/nodes/karpenter-1', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: 'karpenter-1', labels: {}, annotations: { 'k8s.amazonaws.com/eniConfig': 'pods-b' } },
      status: { capacity: { cpu: '2', pods: '58' } },
    });
    expect(await source.node('karpenter-1')).toMatchObject({
      maxPods: 58,
      annotations: { 'k8s.amazonaws.com/eniConfig': 'pods-b' },
    });
    node('plain', {});
    expect((await source.node('plain')).maxPods).toBeUndefined();
  });

  it('falls back to the deprecated zone label', async () => {
    node('old', { 'failure-domain.beta.kubernetes.io/zone': 'us-east-1b' });
    expect((await source.node('old')).availabilityZone).toBe('us-east-1b');
  });

  it('rejects for a node that does not exist', async () => {
    await expect(source.node('ghost')).rejects.toMatchObject({ code: 'ERR_KUBE_API', status: 404 });
  });

  it('reads an ENIConfig: subnet and security groups', async () => {
    eniConfig('us-east-1a', {
      subnet: 'subnet-0123456789abcdef0',
      securityGroups: ['sg-01234567', 'sg-89abcdef'],
    });
    expect(await source.eniConfig('us-east-1a')).toEqual({
      name: 'us-east-1a',
      subnet: 'subnet-0123456789abcdef0',
      securityGroups: ['sg-01234567', 'sg-89abcdef'],
    });
    expect(server.requests.at(-1)!.path).toBe(`${ENICONFIGS}/us-east-1a`);
  });

  it('takes no security groups as none (the primary ENI keeps its own)', async () => {
    eniConfig('bare', { subnet: 'subnet-01234567' });
    expect(await source.eniConfig('bare')).toEqual({
      name: 'bare',
      subnet: 'subnet-01234567',
      securityGroups: [],
    });
  });

  it('answers undefined for an ENIConfig that does not exist', async () => {
    expect(await source.eniConfig('missing')).toBeUndefined();
  });

  it('names a malformed ENIConfig and what is wrong', async () => {
    eniConfig('broken', { subnet: 'sg-01234567' });
    const err: unknown = await source.eniConfig('broken').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidEniConfigError);
    expect((err as Error).message).toContain('broken');
    expect((err as Error).message).toContain('spec.subnet');
  });

  it('passes API server errors on', async () => {
    server.fault(`${ENICONFIGS}/x`, false, { kind: 'status', status: 500 });
    await expect(source.eniConfig('x')).rejects.toMatchObject({ code: 'ERR_KUBE_API', status: 500 });
  });
});

describe('ENIConfig resolution, as the AWS VPC CNI', () => {
  const KEYS = { annotation: 'k8s.amazonaws.com/eniConfig', label: 'k8s.amazonaws.com/eniConfig' };
  const facts = (
    labels: Record<string, string>,
    zone?: string,
    annotations: Record<string, string> = {},
  ): NodeFacts => ({ name: 'n', labels, availabilityZone: zone, annotations });

  it.each([
    [
      'the annotation first',
      facts({ 'k8s.amazonaws.com/eniConfig': 'by-label' }, 'us-east-1a', {
        'k8s.amazonaws.com/eniConfig': 'by-annotation',
      }),
      ['by-annotation'],
    ],
    [
      'the label without annotation',
      facts({ 'k8s.amazonaws.com/eniConfig': 'pods-a' }, 'us-east-1a'),
      ['pods-a'],
    ],
    ['the zone, then default, when the node names none', facts({}, 'us-east-1a'), ['us-east-1a', 'default']],
    [
      'an empty label counts as none',
      facts({ 'k8s.amazonaws.com/eniConfig': '' }, 'us-east-1c'),
      ['us-east-1c', 'default'],
    ],
    ['default alone without a zone', facts({}), ['default']],
  ])('tries %s', (_what, node, expected) => {
    expect(eniConfigCandidates(node, KEYS)).toEqual(expected);
  });

  it('honours other keys (ENI_CONFIG_LABEL_DEF=topology.kubernetes.io/zone)', () => {
    const node = facts({ 'topology.kubernetes.io/zone': 'us-east-1b' }, 'us-east-1b', { other: 'x' });
    expect(
      eniConfigCandidates(node, { annotation: 'example.com/eni', label: 'topology.kubernetes.io/zone' }),
    ).toEqual(['us-east-1b']);
  });

  it('resolves to the first that exists: the zone-named one, else default', async () => {
    eniConfig('default', { subnet: 'subnet-0000000000000000d' });
    const node = facts({}, 'us-east-1a');
    expect((await resolveEniConfig(source, node, KEYS)).name).toBe('default');
    eniConfig('us-east-1a', { subnet: 'subnet-000000000000000aa' });
    expect((await resolveEniConfig(source, node, KEYS)).name).toBe('us-east-1a');
  });

  it('fails naming what it tried when none exists, and never falls back from a named one', async () => {
    eniConfig('default', { subnet: 'subnet-0000000000000000d' });
    const named = facts({}, 'us-east-1a', { 'k8s.amazonaws.com/eniConfig': 'missing' });
    await expect(resolveEniConfig(source, named, KEYS)).rejects.toThrow(
      /no ENIConfig for node n exists: tried missing/,
    );
  });
});
