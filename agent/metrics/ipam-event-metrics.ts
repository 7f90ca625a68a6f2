import type { IpamEvents } from '../node-ipam.js';
import type { AgentMetrics } from './agent-metrics.js';

/**
 * The CNI endpoint's events (agent/node-ipam.ts `IpamEvents`) as metrics. An ADD that found no
 * free address waits; only one whose wait ended without an address counts as "no available
 * address", as in the AWS VPC CNI, where such an ADD fails at once.
 */
export class IpamEventMetrics implements IpamEvents {
  constructor(private readonly metrics: AgentMetrics) {}

  add(outcome: 'ok' | 'waited' | 'failed', waitedMs: number): void {
    switch (outcome) {
      case 'ok':
        this.metrics.addRequest('assigned');
        return;
      case 'waited':
        this.metrics.addRequest('assigned');
        this.metrics.addWait(waitedMs / 1000, 'assigned');
        return;
      case 'failed':
        this.metrics.addRequest('no_address');
        this.metrics.addWait(waitedMs / 1000, 'no_address');
        return;
    }
  }

  /** Every DEL counts, found or not: awscni_del_ip_req_count counts requests, not releases. */
  del(): void {
    this.metrics.delRequest('PodDeleted');
  }

  /**
   * The start of a wait is not counted on its own: eniipam_add_waiting shows waits under way and
   * eniipam_add_wait_seconds_count those that ended, by outcome.
   */
  noFreeAddress(): void {
    return;
  }
}
