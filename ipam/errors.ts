/**
 * The project's error family and the core's members of it. Every error eni-ipam throws on purpose
 * is an EniIpamError with a stable, literal-typed `code` (`ERR_*`) that callers and operators can
 * match on; messages may be reworded, codes may not. Each layer declares its members in one file
 * (ipam/errors.ts, provider/errors.ts, agent/errors.ts). Expected outcomes ("no subnet can take an
 * ENI", "the pool is exhausted") are values, not errors.
 */

export type ErrorCode = `ERR_${string}`;

export abstract class EniIpamError extends Error {
  abstract readonly code: ErrorCode;
}

/**
 * A setting that cannot be used as given. The message always names the variable, the value and
 * what would have been accepted, so an operator can fix the DaemonSet without reading code:
 * `WARM_IP_TARGET="abc": expected a whole number >= 0`.
 */
export class ConfigError extends EniIpamError {
  readonly code = 'ERR_ENI_IPAM_CONFIG' as const;
  override readonly name: string = 'ConfigError';

  constructor(
    readonly variable: string,
    readonly value: string,
    readonly expected: string,
  ) {
    super(`${variable}=${JSON.stringify(value)}: expected ${expected}`);
  }
}

/** Text that is not the IPv4 address, CIDR or /28 prefix it should be. */
export class AddressFormatError extends EniIpamError {
  override readonly name = 'AddressFormatError';
  readonly code = 'ERR_INVALID_ADDRESS' as const;
}

/** A pod's placement annotations cannot be honoured; the message is for the pod's owner. */
export abstract class PlacementError extends EniIpamError {}

export class PoolSubnetMismatchError extends PlacementError {
  readonly code = 'ERR_POOL_SUBNET_MISMATCH' as const;
  override readonly name = 'PoolSubnetMismatchError';

  constructor(
    readonly pod: string,
    readonly pool: string,
    readonly poolSubnetId: string,
    readonly requestedSubnetId: string,
    /** Whose annotations disagree: the pod's own or its namespace's. */
    readonly source: 'pod' | 'namespace',
    /** The two annotations that disagree, for the message. */
    annotations: { readonly pool: string; readonly subnet: string },
  ) {
    super(
      `pod ${pod}: pool "${pool}" belongs to ${poolSubnetId}, but ${requestedSubnetId} was requested (the ${source}'s ${annotations.pool} and ${annotations.subnet} annotations disagree)`,
    );
  }
}

export class UnknownPoolError extends PlacementError {
  readonly code = 'ERR_UNKNOWN_POOL' as const;
  override readonly name = 'UnknownPoolError';

  constructor(
    readonly pod: string,
    readonly pool: string,
    readonly knownPools: readonly string[],
  ) {
    super(
      `pod ${pod}: unknown address pool "${pool}" (declared: ${knownPools.length === 0 ? 'none' : knownPools.join(', ')})`,
    );
  }
}

export class PrefixDelegationUnsupportedError extends EniIpamError {
  readonly code = 'ERR_PREFIX_DELEGATION_UNSUPPORTED' as const;
  override readonly name = 'PrefixDelegationUnsupportedError';

  constructor(readonly instanceType: string) {
    super(`instance type ${instanceType} does not support /28 prefix delegation (it needs the Nitro system)`);
  }
}

export type SnapshotErrorCode =
  'ERR_SNAPSHOT_UNSUPPORTED_VERSION' | 'ERR_SNAPSHOT_MALFORMED' | 'ERR_SNAPSHOT_INCONSISTENT';

/** A datastore snapshot (the checkpoint's content) that cannot be restored; says what was found. */
export class SnapshotError extends EniIpamError {
  override readonly name = 'SnapshotError';
  constructor(
    readonly code: SnapshotErrorCode,
    message: string,
  ) {
    super(message);
  }
}
