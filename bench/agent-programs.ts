/**
 * The ways of running the agent process that the footprint benchmark compares: from dist/ as
 * compiled, from the bundle, and with each V8 or allocator setting added one at a time, up to the
 * way the image runs it (scripts/build-agent-bundle.ts: AGENT_NODE_FLAGS, AGENT_PROCESS_ENV).
 */
import { fileURLToPath } from 'node:url';
import { AGENT_NODE_FLAGS, AGENT_PROCESS_ENV, agentProcessEnv } from '../scripts/build-agent-bundle.js';
import { AGENT_BUNDLE_ENTRY, AGENT_ENTRY } from './agent-under-test.js';

/** dist/, where `npm run build` put the bundle and its compile cache. */
const DIST_DIR = fileURLToPath(new URL('..', import.meta.url));

export interface AgentProgram {
  label: string;
  /** Node flags and the entry file; `agent` follows. */
  nodeArgs: readonly string[];
  /** Process environment beside the agent's configuration. */
  env: Readonly<Record<string, string>>;
  /** The way the image runs it. */
  shipped: boolean;
}

const SEMI_SPACE = '--max-semi-space-size=1';
const OPTIMIZE_FOR_SIZE = '--optimize-for-size';

export const SHIPPED_AGENT: AgentProgram = {
  label: 'as shipped: bundle + V8 flags + glibc malloc setting',
  nodeArgs: [...AGENT_NODE_FLAGS, AGENT_BUNDLE_ENTRY],
  env: AGENT_PROCESS_ENV,
  shipped: true,
};

/** One step at a time, from `node dist/cli/main.js agent` to the shipped program. */
export function footprintLadder(): AgentProgram[] {
  const step = (label: string, nodeArgs: string[], env: Record<string, string> = {}): AgentProgram => ({
    label,
    nodeArgs,
    env,
    shipped: false,
  });
  return [
    step('unbundled (dist/cli/main.js), no flags', [AGENT_ENTRY]),
    step('bundle (dist/bundle/eni-ipam.mjs), no flags', [AGENT_BUNDLE_ENTRY]),
    step(`bundle + ${SEMI_SPACE}`, [SEMI_SPACE, AGENT_BUNDLE_ENTRY]),
    step(
      `bundle + ${SEMI_SPACE} + glibc mmap_threshold`,
      [SEMI_SPACE, AGENT_BUNDLE_ENTRY],
      AGENT_PROCESS_ENV,
    ),
    step(
      `bundle + ${SEMI_SPACE} + glibc mmap_threshold + ${OPTIMIZE_FOR_SIZE}`,
      [SEMI_SPACE, OPTIMIZE_FOR_SIZE, AGENT_BUNDLE_ENTRY],
      AGENT_PROCESS_ENV,
    ),
    SHIPPED_AGENT,
    step(
      'as shipped + compile cache (NODE_COMPILE_CACHE, not shipped)',
      [...AGENT_NODE_FLAGS, AGENT_BUNDLE_ENTRY],
      agentProcessEnv(DIST_DIR),
    ),
    step(
      'as shipped + --max-old-space-size=48 (not shipped)',
      [...AGENT_NODE_FLAGS, '--max-old-space-size=48', AGENT_BUNDLE_ENTRY],
      AGENT_PROCESS_ENV,
    ),
    step(
      'bundle + --lite-mode (not shipped)',
      [SEMI_SPACE, OPTIMIZE_FOR_SIZE, '--lite-mode', AGENT_BUNDLE_ENTRY],
      AGENT_PROCESS_ENV,
    ),
  ];
}
