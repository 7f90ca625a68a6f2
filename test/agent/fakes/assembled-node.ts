import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { assembleNodeAgent, type AssembleOptions } from '../../../agent/assemble.js';
import { loadConfig } from '../../../agent/config.js';
import { silentLogger } from '../../../agent/logger.js';
import type { AgentMetrics } from '../../../agent/metrics/agent-metrics.js';
import { AgentHarness, settings } from './agent-harness.js';

/**
 * An m5.large node built as production builds it (agent/assemble.ts) from these variables, on the
 * harness's fake EC2, with the Kubernetes sources given; `metrics` reads what Prometheus would.
 */
export function assembledNode(
  env: Record<string, string>,
  sources: Pick<AssembleOptions, 'pods' | 'virtualMachines'> = {},
): { h: AgentHarness; metrics: () => AgentMetrics } {
  const config = loadConfig({
    MY_NODE_NAME: 'node-1',
    ENI_IPAM_SPOOL_PATH: join(mkdtempSync(join(tmpdir(), 'eni-ipam-assembled-')), 'spool.jsonl'),
    ...env,
  });
  let metrics: AgentMetrics | undefined;
  const h = new AgentHarness(settings(), 'm5.large', {}, (harness, checkpointer) => {
    const built = assembleNodeAgent({
      config,
      ec2: harness.ec2,
      clock: harness.clock,
      logger: silentLogger(),
      checkpointer,
      ...sources,
    });
    metrics = built.metrics;
    return built.agent;
  });
  return { h, metrics: () => metrics! };
}
