import { describe, expect, it } from 'vitest';
import { AgentMetrics } from '../../agent/metrics/agent-metrics.js';
import type { Ec2CallRecord, Ec2Observer } from '../../provider/observer.js';

const source = {
  snapshot: () => ({ maxEnis: 3, maxIps: 27, maxPods: 29, enis: [], waitingAdds: 0, subnets: [] }),
};

function call(overrides: Partial<Ec2CallRecord>): Ec2CallRecord {
  return {
    api: 'AssignPrivateIpAddresses',
    durationMs: 100,
    errorCode: undefined,
    errorClass: undefined,
    throttled: false,
    attempt: 0,
    ...overrides,
  };
}

function lines(text: string, name: string): string[] {
  return text.split('\n').filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `));
}

describe('Ec2CallMetrics (the provider observer)', () => {
  it('is an Ec2Observer the provider can be given', () => {
    const observer: Ec2Observer = new AgentMetrics(source).ec2;
    expect(typeof observer.onCall).toBe('function');
  });

  it('records successes with the AWS VPC CNI labels: api, error="false", status="200"', async () => {
    const metrics = new AgentMetrics(source);
    metrics.ec2.onCall(call({ durationMs: 120 }));
    metrics.ec2.onCall(call({ durationMs: 80 }));
    metrics.ec2.onCall(call({ api: 'DescribeNetworkInterfaces', durationMs: 40 }));
    const text = await metrics.metrics();
    expect(lines(text, 'awscni_aws_api_latency_ms_sum')).toEqual([
      'awscni_aws_api_latency_ms_sum{api="AssignPrivateIpAddresses",error="false",status="200"} 200',
      'awscni_aws_api_latency_ms_sum{api="DescribeNetworkInterfaces",error="false",status="200"} 40',
    ]);
    expect(lines(text, 'awscni_aws_api_latency_ms_count')).toEqual([
      'awscni_aws_api_latency_ms_count{api="AssignPrivateIpAddresses",error="false",status="200"} 2',
      'awscni_aws_api_latency_ms_count{api="DescribeNetworkInterfaces",error="false",status="200"} 1',
    ]);
    expect(lines(text, 'awscni_ec2api_req_count')).toEqual([
      'awscni_ec2api_req_count{fn="AssignPrivateIpAddresses"} 2',
      'awscni_ec2api_req_count{fn="DescribeNetworkInterfaces"} 1',
    ]);
    expect(lines(text, 'awscni_ec2api_error_count')).toEqual([]);
    expect(lines(text, 'awscni_aws_api_error_count')).toEqual([]);
    // No quantile lines: a summary without objectives, as the AWS VPC CNI's.
    expect(text).not.toContain('awscni_aws_api_latency_ms{');
  });

  it('records errors by code and class, throttles and retries', async () => {
    const metrics = new AgentMetrics(source);
    metrics.ec2.onCall(
      call({ errorCode: 'RequestLimitExceeded', errorClass: 'throttled', throttled: true, durationMs: 30 }),
    );
    metrics.ec2.onCall(call({ attempt: 1, durationMs: 90 }));
    metrics.ec2.onCall(
      call({
        api: 'CreateNetworkInterface',
        errorCode: 'InsufficientFreeAddressesInSubnet',
        errorClass: 'subnet-full',
        durationMs: 50,
      }),
    );
    metrics.ec2.onCall(call({ api: 'DescribeSubnets', errorClass: 'transient', durationMs: 5000 }));
    const text = await metrics.metrics();
    expect(lines(text, 'awscni_aws_api_error_count')).toEqual([
      'awscni_aws_api_error_count{api="AssignPrivateIpAddresses",error="RequestLimitExceeded"} 1',
      'awscni_aws_api_error_count{api="CreateNetworkInterface",error="InsufficientFreeAddressesInSubnet"} 1',
      'awscni_aws_api_error_count{api="DescribeSubnets",error="Unknown"} 1',
    ]);
    expect(lines(text, 'awscni_ec2api_error_count')).toEqual([
      'awscni_ec2api_error_count{fn="AssignPrivateIpAddresses"} 1',
      'awscni_ec2api_error_count{fn="CreateNetworkInterface"} 1',
      'awscni_ec2api_error_count{fn="DescribeSubnets"} 1',
    ]);
    expect(lines(text, 'eniipam_aws_api_errors_by_class_total')).toEqual([
      'eniipam_aws_api_errors_by_class_total{api="AssignPrivateIpAddresses",class="throttled"} 1',
      'eniipam_aws_api_errors_by_class_total{api="CreateNetworkInterface",class="subnet-full"} 1',
      'eniipam_aws_api_errors_by_class_total{api="DescribeSubnets",class="transient"} 1',
    ]);
    // Every API called has a throttle series, at 0 until it is throttled.
    expect(lines(text, 'eniipam_aws_api_throttles_total').sort()).toEqual([
      'eniipam_aws_api_throttles_total{api="AssignPrivateIpAddresses"} 1',
      'eniipam_aws_api_throttles_total{api="CreateNetworkInterface"} 0',
      'eniipam_aws_api_throttles_total{api="DescribeSubnets"} 0',
    ]);
    expect(lines(text, 'eniipam_aws_api_retries_total')).toEqual([
      'eniipam_aws_api_retries_total{api="AssignPrivateIpAddresses"} 1',
    ]);
    expect(lines(text, 'awscni_aws_api_latency_ms_sum')).toEqual([
      'awscni_aws_api_latency_ms_sum{api="AssignPrivateIpAddresses",error="true",status=""} 30',
      'awscni_aws_api_latency_ms_sum{api="AssignPrivateIpAddresses",error="false",status="200"} 90',
      'awscni_aws_api_latency_ms_sum{api="CreateNetworkInterface",error="true",status=""} 50',
      'awscni_aws_api_latency_ms_sum{api="DescribeSubnets",error="true",status=""} 5000',
    ]);
  });

  it('shows each limiter queue and its tokens, keeping the last tokens when unknown', async () => {
    const metrics = new AgentMetrics(source);
    metrics.ec2.onLimiter({ api: 'CreateNetworkInterface', queued: 4, tokens: 2 });
    metrics.ec2.onLimiter({ api: 'CreateNetworkInterface', queued: 1, tokens: undefined });
    metrics.ec2.onLimiter({ api: 'DescribeNetworkInterfaces', queued: 0, tokens: 10 });
    const text = await metrics.metrics();
    expect(lines(text, 'eniipam_limiter_queued')).toEqual([
      'eniipam_limiter_queued{api="CreateNetworkInterface"} 1',
      'eniipam_limiter_queued{api="DescribeNetworkInterfaces"} 0',
    ]);
    expect(lines(text, 'eniipam_limiter_tokens')).toEqual([
      'eniipam_limiter_tokens{api="CreateNetworkInterface"} 2',
      'eniipam_limiter_tokens{api="DescribeNetworkInterfaces"} 10',
    ]);
  });
});
