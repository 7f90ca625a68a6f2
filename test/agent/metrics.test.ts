import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { register as globalRegistry } from 'prom-client';
import { afterEach, describe, expect, it } from 'vitest';
import type { Checkpointer, CheckpointRead } from '../../agent/checkpoint.js';
import { AgentMetrics } from '../../agent/metrics/agent-metrics.js';
import { countingCheckpointWrites } from '../../agent/metrics/checkpoint-metrics.js';
import type { MetricsSnapshot } from '../../agent/metrics/metrics-source.js';

function snapshot(overrides: Partial<MetricsSnapshot> = {}): MetricsSnapshot {
  return {
    maxEnis: 3,
    maxIps: 27,
    maxPods: 29,
    enis: [
      { eniId: 'eni-a', ips: 9, prefixes: 0, assigned: 5, cooling: 1 },
      {
        eniId: 'eni-b',
        ips: 4,
        prefixes: 0,
        assigned: 1,
        cooling: 0,
        cidrs: [{ cidr: '10.0.1.5/32', assigned: 1 }],
      },
    ],
    waitingAdds: 2,
    subnets: [
      { subnetId: 'subnet-1', free: 200 },
      { subnetId: 'subnet-2', free: 0 },
    ],
    ...overrides,
  };
}

/** A source whose snapshot the test can change between scrapes, counting how often it is read. */
function fakeSource(initial: MetricsSnapshot) {
  const state = { current: initial, reads: 0 };
  return {
    state,
    source: {
      snapshot: () => {
        state.reads++;
        return state.current;
      },
    },
  };
}

/** The sample lines of one metric family in the exposition text, e.g. `name{l="v"} 3`. */
function samples(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

function header(text: string, name: string): { type: string | undefined; help: string | undefined } {
  const lines = text.split('\n');
  return {
    type: lines.find((l) => l.startsWith(`# TYPE ${name} `))?.slice(`# TYPE ${name} `.length),
    help: lines.find((l) => l.startsWith(`# HELP ${name} `))?.slice(`# HELP ${name} `.length),
  };
}

describe('AgentMetrics', () => {
  afterEach(() => {
    globalRegistry.clear();
  });

  it('exposes the AWS VPC CNI metrics with their exact names, types, help texts and labels', async () => {
    const metrics = new AgentMetrics(fakeSource(snapshot()).source);
    const text = await metrics.metrics();
    const expected: [string, string, string][] = [
      [
        'awscni_eni_max',
        'gauge',
        'The maximum number of ENIs that can be attached to the instance, accounting for unmanaged ENIs',
      ],
      ['awscni_ip_max', 'gauge', 'The maximum number of IP addresses that can be allocated to the instance'],
      ['awscni_eni_allocated', 'gauge', 'The number of ENIs allocated'],
      ['awscni_total_ip_addresses', 'gauge', 'The total number of IP addresses'],
      ['awscni_assigned_ip_addresses', 'gauge', 'The number of IP addresses assigned to pods'],
      ['awscni_total_ipv4_prefixes', 'gauge', 'The total number of IPv4 prefixes'],
      ['awscni_assigned_ip_per_eni', 'gauge', 'The number of allocated ips partitioned by eni'],
      ['awscni_assigned_ip_per_cidr', 'gauge', 'The total number of IP addresses assigned per cidr'],
      ['awscni_add_ip_req_count', 'counter', 'The number of add IP address requests'],
      ['awscni_del_ip_req_count', 'counter', 'The number of delete IP address requests'],
      [
        'awscni_no_available_ip_addresses',
        'counter',
        'The number of pod IP assignments that fail due to no available IP addresses',
      ],
      ['awscni_aws_api_latency_ms', 'summary', 'AWS API call latency in ms'],
      ['awscni_aws_api_error_count', 'counter', 'The number of times AWS API returns an error'],
      ['awscni_ec2api_req_count', 'counter', 'The number of requests made to EC2 APIs by CNI'],
      ['awscni_ec2api_error_count', 'counter', 'The number of failed EC2 APIs requests'],
      ['awscni_force_removed_ips', 'counter', 'The number of IPs force removed while they had assigned pods'],
      [
        'awscni_force_removed_enis',
        'counter',
        'The number of ENIs force removed while they had assigned pods',
      ],
      ['awscni_ipamd_error_count', 'counter', 'The number of errors encountered in ipamd'],
      [
        'awscni_reconcile_count',
        'counter',
        'The number of times ipamd reconciles on ENIs and IP/Prefix addresses',
      ],
      ['awscni_ipamd_action_inprogress', 'gauge', 'The number of ipamd actions in progress'],
    ];
    for (const [name, type, help] of expected) {
      expect(header(text, name), name).toEqual({ type, help });
    }
    // prom-client would append _total to counters if we named them so; the VPC CNI's names have none.
    expect(text).not.toContain('awscni_add_ip_req_count_total');
  });

  it('reports a node that cannot grow (it stays Ready) through the warm-target gauges', async () => {
    const metrics = new AgentMetrics(
      fakeSource(snapshot({ warmTarget: { short: 9, blocked: true }, prefixDelegationFallback: true }))
        .source,
    );
    const text = await metrics.metrics();
    expect(samples(text, 'eniipam_prefix_delegation_fallback')).toEqual([
      'eniipam_prefix_delegation_fallback 1',
    ]);
    expect(samples(text, 'eniipam_warm_target_short')).toEqual(['eniipam_warm_target_short 9']);
    expect(samples(text, 'eniipam_pool_blocked')).toEqual(['eniipam_pool_blocked 1']);
  });

  it('computes the pool gauges from one snapshot per scrape', async () => {
    const fake = fakeSource(snapshot());
    const metrics = new AgentMetrics(fake.source);
    const text = await metrics.metrics();
    expect(fake.state.reads).toBe(1);
    expect(samples(text, 'awscni_eni_max')).toEqual(['awscni_eni_max 3']);
    expect(samples(text, 'awscni_ip_max')).toEqual(['awscni_ip_max 27']);
    expect(samples(text, 'awscni_eni_allocated')).toEqual(['awscni_eni_allocated 2']);
    expect(samples(text, 'awscni_total_ip_addresses')).toEqual(['awscni_total_ip_addresses 13']);
    expect(samples(text, 'awscni_assigned_ip_addresses')).toEqual(['awscni_assigned_ip_addresses 6']);
    expect(samples(text, 'awscni_total_ipv4_prefixes')).toEqual(['awscni_total_ipv4_prefixes 0']);
    expect(samples(text, 'eniipam_cooling_ip_addresses')).toEqual(['eniipam_cooling_ip_addresses 1']);
    expect(samples(text, 'eniipam_free_ip_addresses')).toEqual(['eniipam_free_ip_addresses 6']);
    expect(samples(text, 'eniipam_add_waiting')).toEqual(['eniipam_add_waiting 2']);
    expect(samples(text, 'eniipam_max_pods')).toEqual(['eniipam_max_pods 29']);
    expect(samples(text, 'eniipam_warm_target_short')).toEqual(['eniipam_warm_target_short 0']);
    expect(samples(text, 'eniipam_pool_blocked')).toEqual(['eniipam_pool_blocked 0']);
    expect(samples(text, 'awscni_assigned_ip_per_eni')).toEqual([
      'awscni_assigned_ip_per_eni{eni="eni-a"} 5',
      'awscni_assigned_ip_per_eni{eni="eni-b"} 1',
    ]);
    expect(samples(text, 'eniipam_ip_addresses_per_eni')).toEqual([
      'eniipam_ip_addresses_per_eni{eni="eni-a",state="assigned"} 5',
      'eniipam_ip_addresses_per_eni{eni="eni-a",state="cooling"} 1',
      'eniipam_ip_addresses_per_eni{eni="eni-a",state="free"} 3',
      'eniipam_ip_addresses_per_eni{eni="eni-b",state="assigned"} 1',
      'eniipam_ip_addresses_per_eni{eni="eni-b",state="cooling"} 0',
      'eniipam_ip_addresses_per_eni{eni="eni-b",state="free"} 3',
    ]);
    expect(samples(text, 'awscni_assigned_ip_per_cidr')).toEqual([
      'awscni_assigned_ip_per_cidr{cidr="10.0.1.5/32"} 1',
    ]);
    expect(samples(text, 'eniipam_subnet_free_ip_addresses')).toEqual([
      'eniipam_subnet_free_ip_addresses{subnet="subnet-1"} 200',
      'eniipam_subnet_free_ip_addresses{subnet="subnet-2"} 0',
    ]);
  });

  it('counts 16 addresses per /28 prefix', async () => {
    const fake = fakeSource(
      snapshot({ enis: [{ eniId: 'eni-p', ips: 0, prefixes: 2, assigned: 3, cooling: 2 }], waitingAdds: 0 }),
    );
    const text = await new AgentMetrics(fake.source).metrics();
    expect(samples(text, 'awscni_total_ip_addresses')).toEqual(['awscni_total_ip_addresses 32']);
    expect(samples(text, 'awscni_total_ipv4_prefixes')).toEqual(['awscni_total_ipv4_prefixes 2']);
    expect(samples(text, 'eniipam_free_ip_addresses')).toEqual(['eniipam_free_ip_addresses 27']);
  });

  it('drops the series of an ENI or subnet that is gone at the next scrape', async () => {
    const fake = fakeSource(snapshot());
    const metrics = new AgentMetrics(fake.source);
    await metrics.metrics();
    fake.state.current = snapshot({
      enis: [{ eniId: 'eni-a', ips: 9, prefixes: 0, assigned: 7, cooling: 0 }],
      subnets: [{ subnetId: 'subnet-1', free: 150 }],
    });
    const text = await metrics.metrics();
    expect(fake.state.reads).toBe(2);
    expect(samples(text, 'awscni_assigned_ip_per_eni')).toEqual([
      'awscni_assigned_ip_per_eni{eni="eni-a"} 7',
    ]);
    expect(samples(text, 'awscni_assigned_ip_per_cidr')).toEqual([]);
    expect(samples(text, 'eniipam_subnet_free_ip_addresses')).toEqual([
      'eniipam_subnet_free_ip_addresses{subnet="subnet-1"} 150',
    ]);
    expect(samples(text, 'awscni_eni_allocated')).toEqual(['awscni_eni_allocated 1']);
  });

  it('counts ADDs by outcome, and a failed one as no available address', async () => {
    const metrics = new AgentMetrics(fakeSource(snapshot()).source);
    metrics.addRequest('assigned');
    metrics.addRequest('assigned');
    metrics.addRequest('no_address');
    metrics.addRequest('max_pods');
    const text = await metrics.metrics();
    expect(samples(text, 'awscni_add_ip_req_count')).toEqual(['awscni_add_ip_req_count 4']);
    expect(samples(text, 'awscni_no_available_ip_addresses')).toEqual(['awscni_no_available_ip_addresses 1']);
    expect(samples(text, 'eniipam_add_requests_total')).toEqual([
      'eniipam_add_requests_total{outcome="assigned"} 2',
      'eniipam_add_requests_total{outcome="no_address"} 1',
      'eniipam_add_requests_total{outcome="max_pods"} 1',
    ]);
  });

  it('counts DELs by reason with the label the AWS VPC CNI uses', async () => {
    const metrics = new AgentMetrics(fakeSource(snapshot()).source);
    metrics.delRequest('PodDeleted');
    metrics.delRequest('PodDeleted');
    metrics.delRequest('GarbageCollected');
    const text = await metrics.metrics();
    expect(samples(text, 'awscni_del_ip_req_count')).toEqual([
      'awscni_del_ip_req_count{reason="PodDeleted"} 2',
      'awscni_del_ip_req_count{reason="GarbageCollected"} 1',
    ]);
  });

  it('records ADD waits in a histogram by outcome', async () => {
    const metrics = new AgentMetrics(fakeSource(snapshot()).source);
    metrics.addWait(0.3, 'assigned');
    metrics.addWait(7, 'assigned');
    metrics.addWait(20, 'no_address');
    const text = await metrics.metrics();
    expect(header(text, 'eniipam_add_wait_seconds').type).toBe('histogram');
    const lines = samples(text, 'eniipam_add_wait_seconds_bucket');
    expect(lines).toContain('eniipam_add_wait_seconds_bucket{le="0.25",outcome="assigned"} 0');
    expect(lines).toContain('eniipam_add_wait_seconds_bucket{le="0.5",outcome="assigned"} 1');
    expect(lines).toContain('eniipam_add_wait_seconds_bucket{le="5",outcome="assigned"} 1');
    expect(lines).toContain('eniipam_add_wait_seconds_bucket{le="10",outcome="assigned"} 2');
    expect(lines).toContain('eniipam_add_wait_seconds_bucket{le="15",outcome="no_address"} 0');
    expect(lines).toContain('eniipam_add_wait_seconds_bucket{le="20",outcome="no_address"} 1');
    expect(samples(text, 'eniipam_add_wait_seconds_sum')).toEqual([
      'eniipam_add_wait_seconds_sum{outcome="assigned"} 7.3',
      'eniipam_add_wait_seconds_sum{outcome="no_address"} 20',
    ]);
    expect(samples(text, 'eniipam_add_wait_seconds_count')).toEqual([
      'eniipam_add_wait_seconds_count{outcome="assigned"} 2',
      'eniipam_add_wait_seconds_count{outcome="no_address"} 1',
    ]);
  });

  it('counts leaks found and released by cause', async () => {
    const metrics = new AgentMetrics(fakeSource(snapshot()).source);
    metrics.leakFound('pod_gone', 3);
    metrics.leakReleased('pod_gone', 2);
    metrics.leakFound('vm_deleted');
    metrics.leakReleased('leaked_eni');
    const text = await metrics.metrics();
    // Every cause has a series from the start, at 0 until it happens.
    expect(samples(text, 'eniipam_leaks_found_total')).toEqual([
      'eniipam_leaks_found_total{cause="pod_gone"} 3',
      'eniipam_leaks_found_total{cause="del_while_down"} 0',
      'eniipam_leaks_found_total{cause="vm_deleted"} 1',
      'eniipam_leaks_found_total{cause="leaked_eni"} 0',
    ]);
    expect(samples(text, 'eniipam_leaks_released_total')).toEqual([
      'eniipam_leaks_released_total{cause="pod_gone"} 2',
      'eniipam_leaks_released_total{cause="leaked_eni"} 1',
    ]);
  });

  it('counts Kubernetes watch restarts by watch and reason', async () => {
    const metrics = new AgentMetrics(fakeSource(snapshot()).source);
    metrics.watchRestart('pods', 'error');
    metrics.watchRestart('pods', 'error');
    metrics.watchRestart('virtualmachines', 'stall');
    const text = await metrics.metrics();
    expect(samples(text, 'eniipam_kube_watch_restarts_total')).toEqual([
      'eniipam_kube_watch_restarts_total{watch="pods",reason="error"} 2',
      'eniipam_kube_watch_restarts_total{watch="virtualmachines",reason="stall"} 1',
    ]);
  });

  it('exports the start-up duration under the AWS VPC CNI name', async () => {
    const metrics = new AgentMetrics(fakeSource(snapshot()).source);
    metrics.startedUp(0.8125);
    const text = await metrics.metrics();
    expect(header(text, 'awscni_ipamd_startup_duration_seconds').type).toBe('gauge');
    expect(samples(text, 'awscni_ipamd_startup_duration_seconds')).toEqual([
      'awscni_ipamd_startup_duration_seconds 0.8125',
    ]);
  });

  it('counts errors, reconciles, force removals and actions in progress', async () => {
    const metrics = new AgentMetrics(fakeSource(snapshot()).source);
    metrics.error('checkpoint');
    metrics.reconciled('ec2_resync');
    metrics.reconciled('ec2_resync');
    metrics.ipsForceRemoved(2);
    metrics.enisForceRemoved(1);
    metrics.checkpointEntriesUnrecovered(4);
    const doneA = metrics.actionStarted('createEni');
    metrics.actionStarted('createEni');
    doneA();
    doneA(); // idempotent: a double call must not drive the gauge below the truth
    const text = await metrics.metrics();
    expect(samples(text, 'awscni_ipamd_error_count')).toEqual([
      'awscni_ipamd_error_count{fn="checkpoint"} 1',
    ]);
    expect(samples(text, 'awscni_reconcile_count')).toEqual(['awscni_reconcile_count{fn="ec2_resync"} 2']);
    expect(samples(text, 'awscni_force_removed_ips')).toEqual(['awscni_force_removed_ips 2']);
    expect(samples(text, 'awscni_force_removed_enis')).toEqual(['awscni_force_removed_enis 1']);
    expect(samples(text, 'awscni_unrecovered_checkpoint_entries')).toEqual([
      'awscni_unrecovered_checkpoint_entries 4',
    ]);
    expect(samples(text, 'awscni_ipamd_action_inprogress')).toEqual([
      'awscni_ipamd_action_inprogress{fn="createEni"} 1',
    ]);
  });

  it('uses its own registry: two instances coexist and the global registry stays empty', async () => {
    const a = new AgentMetrics(fakeSource(snapshot()).source);
    const b = new AgentMetrics(fakeSource(snapshot({ maxEnis: 8 })).source);
    a.addRequest('assigned');
    expect(samples(await a.metrics(), 'awscni_add_ip_req_count')).toEqual(['awscni_add_ip_req_count 1']);
    expect(samples(await b.metrics(), 'awscni_add_ip_req_count')).toEqual(['awscni_add_ip_req_count 0']);
    expect(samples(await b.metrics(), 'awscni_eni_max')).toEqual(['awscni_eni_max 8']);
    expect(await globalRegistry.metrics()).toBe('\n');
  });
});

describe('eniipam_build_info', () => {
  it("is 1 with the package.json version and this process's Node.js version as labels", async () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as {
      version: string;
    };
    const metrics = new AgentMetrics(fakeSource(snapshot()).source);
    expect(samples(await metrics.metrics(), 'eniipam_build_info')).toEqual([
      `eniipam_build_info{version="${pkg.version}",nodejs_version="${process.versions.node}"} 1`,
    ]);
  });
});

describe('eniipam_checkpoint_write_failures_total', () => {
  it('counts the saves and flushes that reject, passes the rejection on, and counts nothing else', async () => {
    const metrics = new AgentMetrics(fakeSource(snapshot()).source);
    let failing = false;
    const inner: Checkpointer = {
      load: (): Promise<CheckpointRead> => Promise.resolve({ kind: 'missing' }),
      save: () => (failing ? Promise.reject(new Error('ENOSPC')) : Promise.resolve()),
      flush: () => (failing ? Promise.reject(new Error('EIO')) : Promise.resolve()),
      close: () => Promise.resolve(),
    };
    const checkpointer = countingCheckpointWrites(inner, metrics);
    await checkpointer.save({ a: 1 });
    await checkpointer.flush();
    expect(samples(await metrics.metrics(), 'eniipam_checkpoint_write_failures_total')).toEqual([
      'eniipam_checkpoint_write_failures_total 0',
    ]);
    failing = true;
    await expect(checkpointer.save({ a: 2 })).rejects.toThrow('ENOSPC');
    await expect(checkpointer.flush()).rejects.toThrow('EIO');
    expect(samples(await metrics.metrics(), 'eniipam_checkpoint_write_failures_total')).toEqual([
      'eniipam_checkpoint_write_failures_total 2',
    ]);
  });
});
