import { Readable } from 'node:stream';
import { HttpResponse, type HttpRequest } from '@smithy/protocol-http';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../time/manual-clock.js';
import { EC2Client } from '@aws-sdk/client-ec2';
import { AwsEc2Network, withoutSdkLogging } from '../../provider/aws-ec2-network.js';
import { AZ, fakeMetadata, NODE_SUBNET, recordingObserver, VPC_ID } from './harness.js';

const subnetsXml = `<DescribeSubnetsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/"><requestId>r1</requestId>
<subnetSet><item><subnetId>${NODE_SUBNET}</subnetId><cidrBlock>10.0.0.0/20</cidrBlock><availabilityZone>${AZ}</availabilityZone>
<availableIpAddressCount>5</availableIpAddressCount><tagSet/></item></subnetSet></DescribeSubnetsResponse>`;
const throttledXml = `<Response><Errors><Error><Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message></Error></Errors><RequestID>r0</RequestID></Response>`;

/**
 * The SDK end to end through an in-process request handler (the simulator's transport): the Region
 * comes from IMDS, and the SDK itself does not retry (maxAttempts 1), so every try is ours.
 */
describe('AwsEc2Network over an injected request handler', () => {
  it('reads the Region from IMDS and leaves retries to the provider', async () => {
    const requests: HttpRequest[] = [];
    const answers = [
      { status: 503, body: throttledXml },
      { status: 200, body: subnetsXml },
    ];
    const requestHandler = {
      handle: (request: HttpRequest) => {
        requests.push(request);
        const answer = answers[Math.min(requests.length - 1, answers.length - 1)]!;
        return Promise.resolve({
          response: new HttpResponse({
            statusCode: answer.status,
            headers: { 'content-type': 'text/xml' },
            body: Readable.from([Buffer.from(answer.body)]),
          }),
        });
      },
    };
    const clock = new ManualClock();
    const observer = recordingObserver();
    const network = new AwsEc2Network({
      clock,
      random: () => 0.5,
      observer,
      metadata: fakeMetadata({ 'placement/region': 'eu-west-1' }),
      requestHandler,
      credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'secret' },
    });
    expect(requests).toHaveLength(0);

    const work = network.discoverSubnets({ vpcId: VPC_ID, availabilityZone: AZ, nodeSubnetId: NODE_SUBNET });
    let done = false;
    void work.finally(() => (done = true));
    // Simulated time may only move while no request is in the SDK: it parses a response in real
    // time (stream reads, several event-loop turns), and on a loaded machine that outlasted the
    // clock's settling, so the clock jumped to the 15 s call timeout, aborted a request that had
    // its answer, and the provider sent a third one.
    // Before the handler (signing) the same holds, so time moves in steps far below the timeout,
    // with real time given to the SDK between them.
    const inSdk = (): boolean => requests.length > observer.calls.length;
    for (let step = 0; !done && step < 10_000; step++) {
      if (!inSdk()) await clock.runUntil(() => done || inSdk(), 500);
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
    const subnets = await work;

    expect(subnets.map((s) => [s.subnetId, s.availableIpCount])).toEqual([[NODE_SUBNET, 5]]);
    expect(requests).toHaveLength(2);
    expect(requests[0]!.hostname).toBe('ec2.eu-west-1.amazonaws.com');
    const form = new URLSearchParams(String(requests[0]!.body));
    expect(form.get('Action')).toBe('DescribeSubnets');
    expect(form.get('Filter.1.Name')).toBe('vpc-id');
    expect(form.get('Filter.1.Value.1')).toBe(VPC_ID);
    expect(observer.calls.map((c) => [c.errorCode, c.throttled])).toEqual([
      ['RequestLimitExceeded', true],
      [undefined, false],
    ]);
    await network.close();
  });
});

describe('withoutSdkLogging', () => {
  it("takes the SDK's logger middleware (a filtered copy of every response) out of a client", () => {
    const sdk = new EC2Client({ region: 'us-east-1' });
    const hasLogger = (): boolean =>
      sdk.middlewareStack.identify().some((m) => m.startsWith('loggerMiddleware'));
    expect(hasLogger()).toBe(true);
    withoutSdkLogging(sdk);
    expect(hasLogger()).toBe(false);
  });
});
