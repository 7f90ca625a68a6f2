/**
 * What the CNI socket endpoint needs from the agent. The server (agent/cni-server.ts) owns the
 * wire; the agent implements this interface with its datastore, planner and checkpoint. Expected
 * failures (no address within the bound, node full, unknown container) are returned as
 * `CniFailure` values carrying the CNI code the plugin will print; a throw means a bug and is
 * reported as code 100.
 */
import type { AddRequest, AttachmentKey, CheckRequest, DelRequest, IpamResult } from '../cni/protocol.js';

export type {
  AddRequest,
  AttachmentKey,
  CheckRequest,
  DelRequest,
  IpamResult,
  PodIdentity,
} from '../cni/protocol.js';
export { CniCode } from '../cni/spec.js';

export interface CniFailure {
  kind: 'failure';
  /** A CNI error code: 11 try again later, 3 unknown container, 50 not available, 100+ ours. */
  cniCode: number;
  message: string;
  details?: string;
}

export type AddOutcome = { kind: 'ok'; result: IpamResult } | CniFailure;
/** DEL is idempotent: releasing what is not assigned is `ok` too. */
export type DelOutcome = { kind: 'ok' } | CniFailure;
/** `ok` only when the container still holds every address of the request. */
export type CheckOutcome = { kind: 'ok' } | CniFailure;
export type GcOutcome = { kind: 'ok'; released: number } | CniFailure;
/** `failure` with code 50 when the node cannot take another pod. */
export type StatusOutcome = { kind: 'ok' } | CniFailure;

export interface CniBackend {
  /**
   * Assigns an address to the attachment, or returns the one it already holds (a repeated ADD
   * must give the same answer). `signal` aborts when the plugin hangs up or the server closes:
   * stop waiting for an address then, and keep nothing reserved for this request.
   */
  add(req: AddRequest, signal: AbortSignal): Promise<AddOutcome>;
  /**
   * Releases the attachment's address into cooldown. `req.spooledAt` is set when the release
   * comes from the spool: an assignment made after that moment belongs to a later ADD; keep it.
   */
  del(req: DelRequest): Promise<DelOutcome>;
  check(req: CheckRequest): Promise<CheckOutcome>;
  /**
   * Releases every assignment added on `network` whose (containerId, ifname) is not in the list;
   * assignments of other networks are not touched.
   */
  gc(validAttachments: readonly AttachmentKey[], network: string): Promise<GcOutcome>;
  status(): Promise<StatusOutcome>;
}
