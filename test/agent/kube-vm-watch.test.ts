import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { VM_API_DISCOVERY_INTERVAL_MS } from '../../agent/intervals.js';
import { kubeConfigForServer } from '../../agent/kube/kubeconfig.js';
import { VirtualMachineWatch } from '../../agent/kube/vm-watch.js';
import { silentLogger } from '../../agent/logger.js';
import { ManualClock } from '../../time/manual-clock.js';
import { FakeApiServer, type KubeObject } from './kube-fake-api-server.js';

const VMS = '/apis/kubevirt.io/v1/virtualmachines';

async function eventually(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  if (!check()) throw new Error(`timed out waiting for: ${what}`);
}

function vm(name: string, namespace: string): KubeObject {
  return {
    apiVersion: 'kubevirt.io/v1',
    kind: 'VirtualMachine',
    metadata: { name, namespace, uid: `uid-${namespace}-${name}` },
    spec: { runStrategy: 'Always' },
  };
}

let server: FakeApiServer;
let clock: ManualClock;
let vms: VirtualMachineWatch;
let abort: AbortController;

beforeEach(async () => {
  server = new FakeApiServer();
  server.collection(VMS, 'VirtualMachineList');
  await server.start();
  clock = new ManualClock();
  vms = new VirtualMachineWatch({
    kubeConfig: kubeConfigForServer(server.url),
    clock,
    log: silentLogger(),
    random: () => 0,
  });
  abort = new AbortController();
});

afterEach(async () => {
  abort.abort();
  await vms.close();
  await server.stop();
});

const names = (): string[] =>
  vms
    .list()
    .map((v) => `${v.namespace}/${v.name}`)
    .sort();

describe('VirtualMachineWatch', () => {
  it('stays disabled, without error, when the cluster has no KubeVirt API', async () => {
    server.apiGroups = [
      { name: 'apps', versions: ['v1'] },
      { name: 'kubevirt.io', versions: ['v1alpha3'] },
    ];
    vms.start(abort.signal);
    await eventually(() => vms.apiState() === 'absent', 'discovery');
    expect(vms.synced()).toBe(true);
    expect(vms.list()).toEqual([]);
    expect(server.requests.filter((r) => r.path.startsWith('/apis/kubevirt.io'))).toEqual([]);
  });

  it('watches VMs in all namespaces when the API exists', async () => {
    server.apiGroups = [{ name: 'kubevirt.io', versions: ['v1', 'v1alpha3'] }];
    server.add(VMS, vm('db', 'team-a'));
    server.add(VMS, vm('web', 'team-b'));
    vms.start(abort.signal);
    await eventually(() => vms.synced(), 'the VM list');
    expect(vms.apiState()).toBe('present');
    expect(vms.list()).toContainEqual({ uid: 'uid-team-a-db', namespace: 'team-a', name: 'db' });
    expect(names()).toEqual(['team-a/db', 'team-b/web']);
    expect(server.lists(VMS)[0]!.query.get('fieldSelector')).toBeNull();

    let changes = 0;
    vms.onChange(() => changes++);
    await eventually(() => server.openWatches() === 1, 'the watch');
    server.remove(VMS, vm('db', 'team-a'));
    await eventually(() => !names().includes('team-a/db'), 'the deletion');
    expect(names()).toEqual(['team-b/web']);
    expect(changes).toBeGreaterThan(0);
  });

  it('starts watching when KubeVirt is installed later', async () => {
    vms.start(abort.signal);
    await eventually(() => vms.apiState() === 'absent', 'first discovery');
    server.apiGroups = [{ name: 'kubevirt.io', versions: ['v1'] }];
    server.add(VMS, vm('late', 'default'));
    await clock.advance(VM_API_DISCOVERY_INTERVAL_MS - 1);
    expect(vms.apiState()).toBe('absent');
    await clock.advance(1);
    await eventually(() => vms.synced() && vms.apiState() === 'present', 'the VM list');
    expect(names()).toEqual(['default/late']);
  });

  it('is not synced while discovery fails, and retries', async () => {
    server.fault('/apis', false, { kind: 'status', status: 503 });
    vms.start(abort.signal);
    await eventually(() => server.requests.some((r) => r.path === '/apis'), 'the first discovery');
    await new Promise((r) => setTimeout(r, 20));
    expect(vms.apiState()).toBe('discovering');
    expect(vms.synced()).toBe(false);
    await clock.advance(1000);
    await eventually(() => vms.apiState() === 'absent', 'the retried discovery');
    expect(vms.synced()).toBe(true);
  });
});
