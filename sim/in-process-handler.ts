import { HttpResponse, type HttpRequest } from '@smithy/protocol-http';
import type { HttpHandlerOptions, RequestHandler } from '@smithy/types';
import type { Ec2Endpoint } from './ec2-endpoint.js';

/** What the SDK's node handler throws when a request times out; its retry strategy treats it as transient. */
export class SimulatedTimeoutError extends Error {
  constructor(requestId: string) {
    super(`Simulated EC2 request ${requestId} timed out`);
    this.name = 'TimeoutError';
  }
}

/**
 * An SDK `requestHandler` that hands the serialized request to the simulated endpoint and returns
 * its serialized XML, no sockets: the client's serializers, signing, parsers and error mapping all
 * run as against EC2. Latencies are waited on the simulator's clock, so with a ManualClock a call
 * takes simulated time only. Pass it as `new EC2Client({ requestHandler })`.
 */
export class InProcessEc2Handler implements RequestHandler<HttpRequest, HttpResponse, HttpHandlerOptions> {
  readonly metadata = { handlerProtocol: 'http/1.1' };

  constructor(private readonly endpoint: Ec2Endpoint) {}

  async handle(request: HttpRequest, options?: HttpHandlerOptions): Promise<{ response: HttpResponse }> {
    const outcome = await this.endpoint.handle(bodyText(request.body), toAbortSignal(options?.abortSignal));
    if (outcome.kind === 'timeout') throw new SimulatedTimeoutError(outcome.requestId);
    const response = new HttpResponse({
      statusCode: outcome.httpStatus,
      headers: {
        'content-type': 'text/xml;charset=UTF-8',
        'x-amzn-requestid': outcome.requestId,
      },
      body: Buffer.from(outcome.body, 'utf8'),
    });
    return { response };
  }

  updateHttpClientConfig(): void {
    // Nothing to configure: there is no connection.
  }

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }
}

function bodyText(body: unknown): string {
  if (body === undefined || body === null) return '';
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body).toString('utf8');
  throw new Error('simulated EC2: the SDK sent a streaming body, which the Query protocol never does');
}

function toAbortSignal(signal: HttpHandlerOptions['abortSignal']): AbortSignal | undefined {
  return signal instanceof AbortSignal ? signal : undefined;
}
