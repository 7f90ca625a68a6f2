import {
  CniCode,
  type AddOutcome,
  type AttachmentKey,
  type CheckOutcome,
  type CniBackend,
  type CniFailure,
  type DelOutcome,
  type GcOutcome,
  type StatusOutcome,
} from './cni-backend.js';

/**
 * The CNI endpoint's backend before the agent has finished starting. The socket opens first, so a
 * plugin never finds it missing and spools a DEL after the spool was already applied; until the
 * agent is ready every call answers "try again later" (STATUS: not available), and the runtime
 * retries. Once `serve(backend)` is called, every call goes to the real backend.
 */
export class DeferredBackend implements CniBackend {
  private target: CniBackend | undefined;

  serve(backend: CniBackend): void {
    this.target = backend;
  }

  add(...args: Parameters<CniBackend['add']>): Promise<AddOutcome> {
    return this.target ? this.target.add(...args) : starting();
  }

  del(...args: Parameters<CniBackend['del']>): Promise<DelOutcome> {
    return this.target ? this.target.del(...args) : starting();
  }

  check(...args: Parameters<CniBackend['check']>): Promise<CheckOutcome> {
    return this.target ? this.target.check(...args) : starting();
  }

  gc(validAttachments: readonly AttachmentKey[], network: string): Promise<GcOutcome> {
    return this.target ? this.target.gc(validAttachments, network) : starting();
  }

  status(): Promise<StatusOutcome> {
    return this.target ? this.target.status() : starting(CniCode.notAvailable);
  }
}

function starting(code: number = CniCode.tryAgainLater): Promise<CniFailure> {
  return Promise.resolve({
    kind: 'failure',
    cniCode: code,
    message: 'eni-ipam is starting; try again shortly',
  });
}
