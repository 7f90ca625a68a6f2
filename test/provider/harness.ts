import { EC2Client, EC2ServiceException, type NetworkInterface } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { ManualClock } from '../../time/manual-clock.js';
import { AwsEc2Network, type AwsEc2NetworkOptions } from '../../provider/aws-ec2-network.js';
import type { MetadataSource } from '../../provider/metadata.js';
import type { Ec2CallRecord, Ec2Observer, LimiterSample } from '../../provider/observer.js';

export const INSTANCE_ID = 'i-0123456789abcdef0';
export const VPC_ID = 'vpc-0a1b2c3d';
export const NODE_SUBNET = 'subnet-node';
export const NODE_SUBNET_CIDR = '10.0.0.0/20';
export const AZ = 'us-east-1a';

/** An error as the SDK raises it for an EC2 error response. */
export function awsError(code: string, status = 400, message = `${code} (test)`): EC2ServiceException {
  return new EC2ServiceException({
    name: code,
    $fault: status >= 500 ? 'server' : 'client',
    $metadata: { httpStatusCode: status },
    message,
  });
}

export interface RecordingObserver extends Ec2Observer {
  calls: Ec2CallRecord[];
  samples: LimiterSample[];
}

export function recordingObserver(): RecordingObserver {
  const calls: Ec2CallRecord[] = [];
  const samples: LimiterSample[] = [];
  return { calls, samples, onCall: (r) => calls.push(r), onLimiter: (s) => samples.push(s) };
}

/** The provider over an aws-sdk-client-mock'ed client and a ManualClock. */
export function harness(options: Partial<AwsEc2NetworkOptions> = {}) {
  const clock = new ManualClock(Date.UTC(2026, 0, 1, 12));
  const sdk = new EC2Client({
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
  });
  const ec2 = mockClient(sdk);
  const observer = recordingObserver();
  const network = new AwsEc2Network({
    region: 'us-east-1',
    clock,
    random: () => 0.5,
    observer,
    ec2Client: sdk,
    clusterName: 'prod',
    extraTags: { team: 'net' },
    // The whole account bucket: these tests are about parameters, not pacing.
    rateLimits: { share: 1 },
    // No network listing in metadata: ENIs come from the mocked DescribeNetworkInterfaces (and no
    // test ever reaches for the real metadata address).
    metadata: fakeMetadata({}),
    ...options,
  });
  /** Runs `work` while advancing simulated time until it settles. */
  async function drive<T>(work: Promise<T>, limitMs = 30 * 60_000): Promise<T> {
    let settled = false;
    work.then(
      () => (settled = true),
      () => (settled = true),
    );
    await clock.runUntil(() => settled, limitMs);
    if (!settled) throw new Error(`work did not settle within ${limitMs} ms of simulated time`);
    return work;
  }
  return { clock, sdk, ec2, observer, network, drive };
}

/** A DescribeNetworkInterfaces entry. */
export function eni(
  id: string,
  overrides: Partial<NetworkInterface> & { deviceIndex?: number } = {},
): NetworkInterface {
  const { deviceIndex, ...rest } = overrides;
  return {
    NetworkInterfaceId: id,
    SubnetId: NODE_SUBNET,
    MacAddress: `0a:00:00:00:00:${id.slice(-2)}`,
    PrivateIpAddress: '10.0.0.10',
    PrivateIpAddresses: [{ PrivateIpAddress: '10.0.0.10', Primary: true }],
    Groups: [{ GroupId: 'sg-1' }],
    Status: deviceIndex === undefined ? 'available' : 'in-use',
    ...(deviceIndex === undefined
      ? {}
      : {
          Attachment: {
            AttachmentId: `attach-${id}`,
            DeviceIndex: deviceIndex,
            Status: 'attached',
            InstanceId: INSTANCE_ID,
          },
        }),
    ...rest,
  };
}

/** An in-memory MetadataSource: paths to values, anything else 404. */
/** Instance metadata of a healthy m5.large node whose primary ENI has this MAC (no ENI listing). */
export function identityMetadata(
  mac: string,
  vpcCidrs = '10.0.0.0/16',
  securityGroups = 'sg-1',
): Record<string, string> {
  return {
    'instance-id': INSTANCE_ID,
    'instance-type': 'm5.large',
    'placement/availability-zone': AZ,
    'placement/region': 'us-east-1',
    mac,
    'local-ipv4': '10.0.0.10',
    [`network/interfaces/macs/${mac}/interface-id`]: 'eni-00',
    [`network/interfaces/macs/${mac}/subnet-id`]: NODE_SUBNET,
    [`network/interfaces/macs/${mac}/vpc-id`]: VPC_ID,
    [`network/interfaces/macs/${mac}/subnet-ipv4-cidr-block`]: NODE_SUBNET_CIDR,
    [`network/interfaces/macs/${mac}/vpc-ipv4-cidr-blocks`]: vpcCidrs,
    [`network/interfaces/macs/${mac}/security-group-ids`]: securityGroups,
  };
}

export function fakeMetadata(values: Record<string, string>): MetadataSource {
  return { get: (path) => Promise.resolve(values[path]) };
}
