/**
 * What the CNI specification fixes for an IPAM plugin: the versions we speak, the well-known error
 * codes and the error JSON. Kept apart from the plugin's logic so that both the plugin and the
 * agent's socket endpoint name codes the same way.
 */

/**
 * Spec versions this plugin speaks. 0.1.0/0.2.0 had a different result shape (`ip4`/`ip6`) and no
 * runtime still sends them; 0.3.x and 0.4.0 differ from 1.x only by the `version` field of each IP.
 */
export const SUPPORTED_CNI_VERSIONS = ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'] as const;
export type CniVersion = (typeof SUPPORTED_CNI_VERSIONS)[number];
export const LATEST_CNI_VERSION: CniVersion = '1.1.0';

export function isSupportedVersion(v: string): v is CniVersion {
  return (SUPPORTED_CNI_VERSIONS as readonly string[]).includes(v);
}

/** `a >= b` for two supported versions (they are plain x.y.z, so a numeric compare is exact). */
export function versionAtLeast(a: CniVersion, b: CniVersion): boolean {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < 3; i++) {
    const x = pa[i] ?? 0;
    const y = pb[i] ?? 0;
    if (x !== y) return x > y;
  }
  return true;
}

/** Well-known codes from the spec (0-99) and ours (100+). */
export const CniCode = {
  incompatibleVersion: 1,
  unsupportedField: 2,
  unknownContainer: 3,
  invalidEnvironment: 4,
  ioFailure: 5,
  decodingFailure: 6,
  invalidNetworkConfig: 7,
  tryAgainLater: 11,
  /** STATUS: the plugin cannot serve ADD (here: the node cannot take another pod). */
  notAvailable: 50,
  /** STATUS: not available and existing containers may have limited connectivity. */
  limitedConnectivity: 51,
  /** A bug or an unexpected exception in the plugin or the agent. */
  internal: 100,
  /** The agent answered something the plugin cannot read, or speaks another protocol version. */
  agentProtocol: 101,
} as const;

export interface CniErrorBody {
  cniVersion: string;
  code: number;
  msg: string;
  details?: string;
}

/** An expected failure that the plugin reports as CNI error JSON on stdout. */
export class CniError extends Error {
  override readonly name = 'CniError';
  constructor(
    readonly code: number,
    msg: string,
    readonly details?: string,
  ) {
    super(msg);
  }

  body(cniVersion: string): CniErrorBody {
    return this.details === undefined
      ? { cniVersion, code: this.code, msg: this.message }
      : { cniVersion, code: this.code, msg: this.message, details: this.details };
  }
}
