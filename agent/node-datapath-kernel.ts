/**
 * Builds the node datapath the agent process uses: the kernel's (iproute2 + nftables), with the
 * settings of the agent's configuration.
 */
import { existsSync } from 'node:fs';
import { KernelDatapath } from '../datapath/kernel-datapath.js';
import type { Datapath } from '../datapath/model.js';
import type { Clock } from '../time/clock.js';
import type { AgentConfig } from './config.js';
import type { Logger } from './logger.js';
import { NodeDatapath } from './node-datapath.js';

/**
 * Where the host's net sysctls are writable: the DaemonSet mounts the host's /proc/sys/net at
 * /host/proc/sys/net (a container's own /proc/sys is read-only); elsewhere, /proc/sys.
 */
const HOST_SYSCTL_DIR = '/host/proc/sys';

export function kernelDatapath(): KernelDatapath {
  return new KernelDatapath({
    sysctlDir: existsSync(`${HOST_SYSCTL_DIR}/net`) ? HOST_SYSCTL_DIR : '/proc/sys',
  });
}

export function nodeDatapathOf(
  datapath: Datapath,
  config: Pick<AgentConfig, 'datapath'>,
  deps: { logger: Logger; clock: Clock },
): NodeDatapath {
  return new NodeDatapath({
    datapath,
    logger: deps.logger.child({ component: 'datapath' }),
    clock: deps.clock,
    settings: {
      mtu: config.datapath.mtu,
      snat: {
        external: config.datapath.externalSnat,
        excludeCidrs: config.datapath.excludeSnatCidrs,
        randomize: config.datapath.randomizeSnat,
      },
    },
  });
}
