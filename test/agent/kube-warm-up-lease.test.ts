import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { kubeConfigForServer } from '../../agent/kube/kubeconfig.js';
import {
  agentNamespace,
  KubeWarmUpLease,
  WARM_UP_LABEL,
  warmUpLease,
  warmUpLeaseName,
} from '../../agent/kube/warm-up-lease.js';
import { silentLogger } from '../../agent/logger.js';
import { ManualClock } from '../../time/manual-clock.js';
import { FakeApiServer } from './kube-fake-api-server.js';

const NODE = 'ip-10-0-1-5.ec2.internal';
const LEASES = '/apis/coordination.k8s.io/v1/namespaces/kube-system/leases';

describe('warm-up Lease', () => {
  it('is named after its node, within the 253 characters of a name', () => {
    expect(warmUpLeaseName(NODE)).toBe(`eni-ipam-warm-up.${NODE}`);
    const long = warmUpLeaseName('n'.repeat(253));
    expect(long.length).toBeLessThanOrEqual(253);
    expect(long).not.toBe(warmUpLeaseName('m'.repeat(253)));
  });

  it('says which node is warm, and is owned by its Node when the uid is known', () => {
    const lease = warmUpLease(NODE, 'kube-system', 'uid-1');
    expect(lease.spec?.holderIdentity).toBe(NODE);
    expect(lease.metadata?.labels?.[WARM_UP_LABEL]).toBe('done');
    expect(lease.metadata?.ownerReferences).toEqual([
      { apiVersion: 'v1', kind: 'Node', name: NODE, uid: 'uid-1' },
    ]);
    expect(warmUpLease(NODE, 'kube-system').metadata?.ownerReferences).toBeUndefined();
  });

  it("lives in the kubeconfig's namespace, else kube-system", () => {
    const kc = kubeConfigForServer('http://127.0.0.1:1');
    expect(agentNamespace(kc)).toBe('kube-system');
    kc.contexts[0] = { ...kc.contexts[0]!, namespace: 'eni-ipam' };
    expect(agentNamespace(kc)).toBe('eni-ipam');
  });
});

describe('KubeWarmUpLease', () => {
  let server: FakeApiServer;
  beforeEach(async () => {
    server = new FakeApiServer();
    server.collection(LEASES, 'LeaseList');
    server.setObject(`/api/v1/nodes/${NODE}`, {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: NODE, uid: 'node-uid' },
    });
    await server.start();
  });
  afterEach(async () => {
    await server.stop();
  });

  it('creates the Lease once, owned by the Node, however often it is told', async () => {
    const sink = new KubeWarmUpLease({
      kubeConfig: kubeConfigForServer(server.url),
      nodeName: NODE,
      clock: new ManualClock(),
      log: silentLogger(),
    });
    sink.done();
    sink.done();
    await sink.idle();
    const leases = server.objects(LEASES);
    expect(leases).toHaveLength(1);
    expect(leases[0]?.['metadata']).toEqual(
      expect.objectContaining({
        name: warmUpLeaseName(NODE),
        ownerReferences: [expect.objectContaining({ kind: 'Node', uid: 'node-uid' })],
      }),
    );
  });
});
