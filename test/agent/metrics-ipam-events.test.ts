import { describe, expect, it } from 'vitest';
import { AgentMetrics } from '../../agent/metrics/agent-metrics.js';
import { IpamEventMetrics } from '../../agent/metrics/ipam-event-metrics.js';
import type { IpamEvents } from '../../agent/node-ipam.js';

const source = {
  snapshot: () => ({ maxEnis: 3, maxIps: 27, maxPods: 29, enis: [], waitingAdds: 0, subnets: [] }),
};

function lines(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

describe('IpamEventMetrics', () => {
  it('maps the CNI endpoint events to the ADD and DEL metrics', async () => {
    const metrics = new AgentMetrics(source);
    // Called the way agent/node-ipam.ts calls it: through its IpamEvents interface.
    const events: IpamEvents = new IpamEventMetrics(metrics);
    events.add('ok', 0);
    events.noFreeAddress();
    events.add('waited', 4_000);
    events.noFreeAddress();
    events.add('failed', 20_000);
    events.del('ok');
    events.del('not-found');
    const text = await metrics.metrics();
    expect(lines(text, 'awscni_add_ip_req_count')).toEqual(['awscni_add_ip_req_count 3']);
    expect(lines(text, 'awscni_no_available_ip_addresses')).toEqual(['awscni_no_available_ip_addresses 1']);
    expect(lines(text, 'eniipam_add_requests_total')).toEqual([
      'eniipam_add_requests_total{outcome="assigned"} 2',
      'eniipam_add_requests_total{outcome="no_address"} 1',
    ]);
    expect(lines(text, 'eniipam_add_wait_seconds_sum')).toEqual([
      'eniipam_add_wait_seconds_sum{outcome="assigned"} 4',
      'eniipam_add_wait_seconds_sum{outcome="no_address"} 20',
    ]);
    expect(lines(text, 'awscni_del_ip_req_count')).toEqual([
      'awscni_del_ip_req_count{reason="PodDeleted"} 2',
    ]);
  });
});
