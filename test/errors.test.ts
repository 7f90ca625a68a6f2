import { describe, expect, it } from 'vitest';
import {
  CheckpointClosedError,
  InvalidConfigError,
  InvalidEniConfigError,
  KubeApiError,
} from '../agent/errors.js';
import { PlanInputError, UsageError } from '../cli/errors.js';
import {
  AddressFormatError,
  ConfigError,
  EniIpamError,
  PoolSubnetMismatchError,
  PrefixDelegationUnsupportedError,
  SnapshotError,
  UnknownPoolError,
} from '../ipam/errors.js';
import { toEc2Error } from '../provider/aws-errors.js';
import { CloudWatchError, ImdsError } from '../provider/errors.js';

const samples: [string, EniIpamError, string][] = [
  ['ConfigError', new ConfigError('WARM_IP_TARGET', 'x', 'a whole number'), 'ERR_ENI_IPAM_CONFIG'],
  [
    'InvalidConfigError',
    new InvalidConfigError([{ variable: 'MY_NODE_NAME', value: undefined, accepted: 'a name' }]),
    'ERR_ENI_IPAM_CONFIG',
  ],
  ['AddressFormatError', new AddressFormatError('"x" is not an IPv4 address'), 'ERR_INVALID_ADDRESS'],
  [
    'PoolSubnetMismatchError',
    new PoolSubnetMismatchError('ns/p', 'db', 'subnet-1', 'subnet-2', 'pod', { pool: 'p', subnet: 's' }),
    'ERR_POOL_SUBNET_MISMATCH',
  ],
  ['UnknownPoolError', new UnknownPoolError('ns/p', 'db', []), 'ERR_UNKNOWN_POOL'],
  [
    'PrefixDelegationUnsupportedError',
    new PrefixDelegationUnsupportedError('t2.micro'),
    'ERR_PREFIX_DELEGATION_UNSUPPORTED',
  ],
  ['SnapshotError', new SnapshotError('ERR_SNAPSHOT_MALFORMED', 'not JSON'), 'ERR_SNAPSHOT_MALFORMED'],
  ['CheckpointClosedError', new CheckpointClosedError('closed'), 'ERR_CHECKPOINT_CLOSED'],
  ['InvalidEniConfigError', new InvalidEniConfigError('us-east-1a', 'spec.subnet'), 'ERR_INVALID_ENICONFIG'],
  ['KubeApiError', new KubeApiError('GET', '/api/v1/nodes/x', 404, 'nodes "x" not found'), 'ERR_KUBE_API'],
  ['ImdsError', new ImdsError('IMDS GET: HTTP 500', 500), 'ERR_IMDS'],
  [
    'Ec2Error (throttled)',
    toEc2Error({ name: 'RequestLimitExceeded' }, 'AssignPrivateIpAddresses', {}),
    'ERR_EC2_THROTTLED',
  ],
  [
    'Ec2Error (limit)',
    toEc2Error({ name: 'AttachmentLimitExceeded' }, 'AttachNetworkInterface', {}),
    'ERR_EC2_LIMIT',
  ],
  ['CloudWatchError', new CloudWatchError('Throttling', true, undefined), 'ERR_CLOUDWATCH'],
  ['UsageError', new UsageError('--enis: expected a whole number'), 'ERR_USAGE'],
  ['PlanInputError', new PlanInputError(['env.WARM_IP_TARGET']), 'ERR_PLAN_INPUT'],
];

describe('the error family', () => {
  it.each(samples)('%s is an EniIpamError with code %s', (_name, err, code) => {
    expect(err).toBeInstanceOf(EniIpamError);
    expect(err).toBeInstanceOf(Error);
    expect(err.code).toBe(code);
    expect(err.code).toMatch(/^ERR_[A-Z0-9_]+$/);
  });

  it('keeps the AWS code apart from the stable one', () => {
    const err = toEc2Error({ name: 'PrivateIpAddressLimitExceeded' }, 'AssignPrivateIpAddresses', {});
    expect(err).toMatchObject({
      code: 'ERR_EC2_LIMIT',
      awsCode: 'PrivateIpAddressLimitExceeded',
      kind: 'limit',
    });
  });
});
