import { Gauge, type Registry } from 'prom-client';
import {
  eniAddresses,
  nodeTotals,
  type MetricsSnapshot,
  type MetricsSource,
  type NodeTotals,
} from './metrics-source.js';

/**
 * The gauges that describe the node's address pool. They hold no state of their own: each is
 * computed in prom-client's `collect()` from one `MetricsSource.snapshot()`, so a scrape can never
 * show a count that the datastore has since changed (the AWS VPC CNI sets its gauges at 23 call
 * sites and they drift). Names, help texts and labels of the `awscni_*` gauges are the AWS VPC
 * CNI's (utils/prometheusmetrics), so its dashboards keep working.
 */
export function registerNodeGauges(registry: Registry, source: MetricsSource): void {
  const scrape = new ScrapeSnapshot(source);

  const simple = (name: string, help: string, value: (s: MetricsSnapshot, t: NodeTotals) => number): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const { snapshot, totals } = scrape.get();
        this.set(value(snapshot, totals));
      },
    });
  };

  simple(
    'awscni_eni_max',
    'The maximum number of ENIs that can be attached to the instance, accounting for unmanaged ENIs',
    (s) => s.maxEnis,
  );
  simple(
    'awscni_ip_max',
    'The maximum number of IP addresses that can be allocated to the instance',
    (s) => s.maxIps,
  );
  simple('awscni_eni_allocated', 'The number of ENIs allocated', (_, t) => t.enis);
  simple('awscni_total_ip_addresses', 'The total number of IP addresses', (_, t) => t.addresses);
  simple('awscni_assigned_ip_addresses', 'The number of IP addresses assigned to pods', (_, t) => t.assigned);
  simple('awscni_total_ipv4_prefixes', 'The total number of IPv4 prefixes', (_, t) => t.prefixes);

  simple(
    'eniipam_cooling_ip_addresses',
    'Addresses released less than IP_COOLDOWN_PERIOD ago: neither free nor assignable',
    (_, t) => t.cooling,
  );
  simple(
    'eniipam_free_ip_addresses',
    'Addresses assignable now: neither assigned nor cooling down',
    (_, t) => t.free,
  );
  simple('eniipam_add_waiting', 'CNI ADD requests waiting for an address right now', (s) => s.waitingAdds);
  simple(
    'eniipam_warm_target_short',
    'Addresses (or /28 prefixes with prefix delegation) the warm target is short by',
    (s) => s.warmTarget?.short ?? 0,
  );
  simple(
    'eniipam_pool_blocked',
    '1 when the warm target is not met and the pool cannot grow now (ENI limit, max pods, subnet full)',
    (s) => (s.warmTarget?.blocked === true ? 1 : 0),
  );
  simple(
    'eniipam_prefix_delegation_fallback',
    '1 when ENABLE_PREFIX_DELEGATION is on but the instance type has no /28 prefixes, so secondary IPs are used',
    (s) => (s.prefixDelegationFallback === true ? 1 : 0),
  );
  simple(
    'eniipam_max_pods',
    "The node's max pods: the kubelet's (status.capacity.pods), else computed for the instance type",
    (s) => s.maxPods,
  );

  new Gauge({
    name: 'awscni_assigned_ip_per_eni',
    help: 'The number of allocated ips partitioned by eni',
    labelNames: ['eni'],
    registers: [registry],
    collect() {
      // reset() first: an ENI deleted since the last scrape must not keep its last value.
      this.reset();
      for (const eni of scrape.get().snapshot.enis) this.set({ eni: eni.eniId }, eni.assigned);
    },
  });

  new Gauge({
    name: 'eniipam_ip_addresses_per_eni',
    help: 'Addresses on each ENI, by state (assigned, cooling, free)',
    labelNames: ['eni', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const eni of scrape.get().snapshot.enis) {
        const total = eniAddresses(eni);
        this.set({ eni: eni.eniId, state: 'assigned' }, eni.assigned);
        this.set({ eni: eni.eniId, state: 'cooling' }, eni.cooling);
        this.set({ eni: eni.eniId, state: 'free' }, Math.max(0, total - eni.assigned - eni.cooling));
      }
    },
  });

  new Gauge({
    name: 'awscni_assigned_ip_per_cidr',
    help: 'The total number of IP addresses assigned per cidr',
    labelNames: ['cidr'],
    registers: [registry],
    collect() {
      this.reset();
      for (const eni of scrape.get().snapshot.enis) {
        for (const { cidr, assigned } of eni.cidrs ?? []) this.set({ cidr }, assigned);
      }
    },
  });

  new Gauge({
    name: 'eniipam_subnet_free_ip_addresses',
    help: 'Free addresses in each candidate subnet, as EC2 last reported (AvailableIpAddressCount)',
    labelNames: ['subnet'],
    registers: [registry],
    collect() {
      this.reset();
      for (const subnet of scrape.get().snapshot.subnets) this.set({ subnet: subnet.subnetId }, subnet.free);
    },
  });
}

/**
 * One snapshot per scrape. prom-client runs every metric's `collect()` in the same synchronous
 * pass of `registry.metrics()`, so a snapshot is kept until the next microtask: the gauges of one
 * scrape agree with each other, and the next scrape takes a fresh snapshot.
 */
class ScrapeSnapshot {
  private current: { snapshot: MetricsSnapshot; totals: NodeTotals } | undefined;

  constructor(private readonly source: MetricsSource) {}

  get(): { snapshot: MetricsSnapshot; totals: NodeTotals } {
    if (this.current) return this.current;
    const snapshot = this.source.snapshot();
    const current = { snapshot, totals: nodeTotals(snapshot) };
    this.current = current;
    queueMicrotask(() => {
      this.current = undefined;
    });
    return current;
  }
}
