import { DescribeSubnetsCommand } from '@aws-sdk/client-ec2';
import { describe, expect, it } from 'vitest';
import { classifyCode, isRetryable, toEc2Error } from '../../provider/aws-errors.js';
import { Ec2Error } from '../../provider/errors.js';
import { backoffDelay } from '../../provider/backoff.js';
import { awsError, AZ, harness, NODE_SUBNET, VPC_ID } from './harness.js';

const query = { vpcId: VPC_ID, availabilityZone: AZ, nodeSubnetId: NODE_SUBNET };
const subnets = {
  Subnets: [
    { SubnetId: NODE_SUBNET, CidrBlock: '10.0.0.0/20', AvailabilityZone: AZ, AvailableIpAddressCount: 9 },
  ],
};

describe('error classes', () => {
  it.each([
    ['RequestLimitExceeded', 503, 'throttled'],
    ['InternalError', 500, 'transient'],
    ['Unavailable', 503, 'transient'],
    ['SomethingNew', 502, 'transient'],
    ['InvalidNetworkInterfaceID.NotFound', 400, 'not-yet-visible'],
    ['InvalidAttachmentID.NotFound', 400, 'not-yet-visible'],
    ['InvalidNetworkInterface.InUse', 400, 'not-yet-visible'],
    ['InsufficientFreeAddressesInSubnet', 400, 'subnet-full'],
    ['InsufficientCidrBlocks', 400, 'subnet-full'],
    ['AttachmentLimitExceeded', 400, 'limit'],
    ['PrivateIpAddressLimitExceeded', 400, 'limit'],
    ['NetworkInterfaceLimitExceeded', 400, 'limit'],
    ['UnauthorizedOperation', 403, 'permanent'],
    ['InvalidParameterValue', 400, 'permanent'],
  ] as const)('%s (HTTP %i) is %s', (code, status, kind) => {
    expect(classifyCode(code, status)).toBe(kind);
    const err = toEc2Error(awsError(code, status), 'DescribeSubnets', { a: 1 });
    expect(err).toMatchObject({
      kind,
      awsCode: code,
      action: 'DescribeSubnets',
      params: { a: 1 },
      httpStatus: status,
    });
  });

  it('classifies network errors and timeouts as transient', () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(toEc2Error(reset, 'DescribeSubnets', undefined).kind).toBe('transient');
    const timeout = Object.assign(new Error('late'), { name: 'TimeoutError' });
    expect(toEc2Error(timeout, 'DescribeSubnets', undefined).kind).toBe('transient');
  });

  it('retries only throttled, transient and not-yet-visible', () => {
    expect(
      ['throttled', 'transient', 'not-yet-visible', 'subnet-full', 'limit', 'permanent'].filter((k) =>
        isRetryable(k as never),
      ),
    ).toEqual(['throttled', 'transient', 'not-yet-visible']);
  });
});

describe('backoff', () => {
  it('is full jitter under an exponential ceiling with a cap', () => {
    const policy = { baseMs: 100, capMs: 1000 };
    expect([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(a, policy, () => 0.999999))).toEqual([
      99, 199, 399, 799, 999, 999,
    ]);
    expect(backoffDelay(5, policy, () => 0)).toBe(0);
  });
});

describe('retries through the client', () => {
  it('retries RequestLimitExceeded with backoff, slows the limiter down and reports throttles', async () => {
    const h = harness();
    h.ec2
      .on(DescribeSubnetsCommand)
      .rejectsOnce(awsError('RequestLimitExceeded', 503))
      .rejectsOnce(awsError('RequestLimitExceeded', 503))
      .resolves(subnets);
    const started = h.clock.now();

    const found = await h.drive(h.network.discoverSubnets(query));

    expect(found.map((s) => s.subnetId)).toEqual([NODE_SUBNET]);
    expect(h.observer.calls.map((c) => [c.api, c.attempt, c.errorCode, c.throttled])).toEqual([
      ['DescribeSubnets', 0, 'RequestLimitExceeded', true],
      ['DescribeSubnets', 1, 'RequestLimitExceeded', true],
      ['DescribeSubnets', 2, undefined, false],
    ]);
    // random() = 0.5. A throttle's backoff spreads over the bucket's refill time (DescribeSubnets:
    // 100 tokens at 20/s, 5 s; base a quarter of it): 625 ms, when the limiter (5/s after the first
    // throttle) has a token; then 1,250 ms, when the limiter (1.25/s after the second) has one too.
    expect(h.clock.now() - started).toBe(625 + 1250);
    expect(h.observer.samples.some((s) => s.api === 'DescribeSubnets' && s.tokens === 0)).toBe(true);
  });

  it('surfaces the last throttle after maxAttempts', async () => {
    const h = harness({ retry: { maxAttempts: 3 } });
    h.ec2.on(DescribeSubnetsCommand).rejects(awsError('RequestLimitExceeded', 503));

    const err = await h.drive(h.network.discoverSubnets(query)).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(Ec2Error);
    expect(err).toMatchObject({ kind: 'throttled', awsCode: 'RequestLimitExceeded' });
    expect(h.ec2.commandCalls(DescribeSubnetsCommand)).toHaveLength(3);
  });

  it('retries InternalError and Unavailable', async () => {
    const h = harness();
    h.ec2
      .on(DescribeSubnetsCommand)
      .rejectsOnce(awsError('InternalError', 500))
      .rejectsOnce(awsError('Unavailable', 503))
      .resolves(subnets);

    await h.drive(h.network.discoverSubnets(query));

    expect(h.ec2.commandCalls(DescribeSubnetsCommand)).toHaveLength(3);
  });

  it('does not retry a permanent error and keeps action and parameters', async () => {
    const h = harness();
    h.ec2.on(DescribeSubnetsCommand).rejects(awsError('UnauthorizedOperation', 403));

    const err = await h.drive(h.network.discoverSubnets(query)).catch((e: unknown) => e);

    expect(err).toMatchObject({
      kind: 'permanent',
      awsCode: 'UnauthorizedOperation',
      action: 'DescribeSubnets',
      params: {
        Filters: [
          { Name: 'vpc-id', Values: [VPC_ID] },
          { Name: 'availability-zone', Values: [AZ] },
        ],
        MaxResults: 1000,
      },
    });
    expect((err as Error).message).toMatch(/^DescribeSubnets: UnauthorizedOperation: /);
    expect(h.ec2.commandCalls(DescribeSubnetsCommand)).toHaveLength(1);
  });

  it('aborts a call without an answer after the call timeout and retries it as transient', async () => {
    const h = harness({ retry: { callTimeoutMs: 5_000 } });
    let signal: AbortSignal | undefined;
    h.ec2
      .on(DescribeSubnetsCommand)
      .callsFakeOnce(() => new Promise(() => undefined))
      .resolves(subnets);
    // aws-sdk-client-mock does not pass the abort signal along: observe it through send instead.
    const send = h.sdk.send.bind(h.sdk);
    h.sdk.send = ((command: never, options?: { abortSignal?: AbortSignal }) => {
      signal ??= options?.abortSignal;
      return send(command, options as never);
    }) as typeof h.sdk.send;

    await h.drive(h.network.discoverSubnets(query));

    expect(signal?.aborted).toBe(true);
    expect(h.observer.calls.map((c) => [c.errorCode, c.durationMs])).toEqual([
      ['TimeoutError', 5_000],
      [undefined, 0],
    ]);
  });
});
