/**
 * An in-memory CniBackend with state: a small pool of addresses, assignments keyed by container id
 * and interface, and a log of every call. Enough behaviour to tell a right answer from a wrong one
 * through the real plugin and socket; the real backend is the agent's datastore.
 */
import type {
  AddOutcome,
  AddRequest,
  AttachmentKey,
  CheckOutcome,
  CheckRequest,
  CniBackend,
  DelOutcome,
  DelRequest,
  GcOutcome,
  PodIdentity,
  StatusOutcome,
} from '../../agent/cni-backend.js';
import { systemClock, type Clock } from '../../time/clock.js';

export interface Assignment {
  address: string;
  pod: PodIdentity;
  assignedAt: number;
}

export const SUBNET_PREFIX = 24;
export const GATEWAY = '10.0.1.1';

export class FakeBackend implements CniBackend {
  readonly assignments = new Map<string, Assignment>();
  readonly calls: { op: string; req: unknown }[] = [];
  private free: string[];
  /** When set, ADD waits on this before answering (to test aborts and shutdown). */
  addGate: ((signal: AbortSignal) => Promise<void>) | undefined;
  /** When set, every call throws this (a backend bug). */
  throwOn: string | undefined;

  constructor(
    capacity = 8,
    private readonly clock: Clock = systemClock,
  ) {
    this.free = Array.from({ length: capacity }, (_, i) => `10.0.1.${10 + i}`);
  }

  static key(a: AttachmentKey): string {
    return `${a.containerId}/${a.ifname}`;
  }

  freeCount(): number {
    return this.free.length;
  }

  private record(op: string, req: unknown): void {
    this.calls.push({ op, req });
    if (this.throwOn === op) throw new Error(`backend exploded on ${op}`);
  }

  async add(req: AddRequest, signal: AbortSignal): Promise<AddOutcome> {
    this.record('add', req);
    if (this.addGate !== undefined) await this.addGate(signal);
    const key = FakeBackend.key(req);
    let held = this.assignments.get(key);
    if (held === undefined) {
      const address = this.free.shift();
      if (address === undefined) {
        return { kind: 'failure', cniCode: 11, message: 'no free address', details: 'subnet full' };
      }
      held = { address, pod: req.pod, assignedAt: this.clock.now() };
      this.assignments.set(key, held);
    }
    return {
      kind: 'ok',
      result: {
        ips: [{ address: `${held.address}/${SUBNET_PREFIX}`, gateway: GATEWAY }],
        routes: [{ dst: '0.0.0.0/0', gw: GATEWAY }],
      },
    };
  }

  del(req: DelRequest): Promise<DelOutcome> {
    this.record('del', req);
    const key = FakeBackend.key(req);
    const held = this.assignments.get(key);
    // A spooled release older than the assignment belongs to an earlier ADD.
    if (held !== undefined && !(req.spooledAt !== undefined && held.assignedAt > req.spooledAt)) {
      this.assignments.delete(key);
      this.free.push(held.address);
    }
    return Promise.resolve({ kind: 'ok' });
  }

  check(req: CheckRequest): Promise<CheckOutcome> {
    this.record('check', req);
    const held = this.assignments.get(FakeBackend.key(req));
    if (held === undefined)
      return Promise.resolve({ kind: 'failure', cniCode: 3, message: 'unknown container' });
    const mine = `${held.address}/${SUBNET_PREFIX}`;
    const foreign = req.addresses.filter((a) => a !== mine);
    if (foreign.length > 0) {
      return Promise.resolve({
        kind: 'failure',
        cniCode: 102,
        message: 'address not held',
        details: foreign.join(','),
      });
    }
    return Promise.resolve({ kind: 'ok' });
  }

  gc(validAttachments: readonly AttachmentKey[]): Promise<GcOutcome> {
    this.record('gc', validAttachments);
    const keep = new Set(validAttachments.map((a) => FakeBackend.key(a)));
    let released = 0;
    for (const [key, held] of this.assignments) {
      if (keep.has(key)) continue;
      this.assignments.delete(key);
      this.free.push(held.address);
      released++;
    }
    return Promise.resolve({ kind: 'ok', released });
  }

  status(): Promise<StatusOutcome> {
    this.record('status', {});
    return Promise.resolve(
      this.free.length === 0
        ? { kind: 'failure', cniCode: 50, message: 'node cannot take another pod' }
        : { kind: 'ok' },
    );
  }
}
