import {
  ADDRESSES_PER_PREFIX,
  formatCidr,
  numberToIp,
  parseCidr,
  PREFIX_LENGTH,
  usableRange,
  type Cidr,
} from '../ipam/address.js';
import type { SeededRandom } from './random.js';

/**
 * Unique addresses of one subnet. Every address handed out (a /32, or the 16 of a /28 prefix) is in
 * one set, so the free count is exact by construction and two holders can never share an address.
 * Choice is random (seeded) like EC2's, which is what surfaces fragmentation for /28 prefixes.
 */
export class SubnetAddresses {
  readonly cidr: Cidr;
  private readonly first: number;
  private readonly last: number;
  private readonly used = new Set<number>();

  constructor(
    cidr: string,
    private readonly random: SeededRandom,
  ) {
    this.cidr = parseCidr(cidr);
    if (this.cidr.prefixLength > 28 || this.cidr.prefixLength < 16) {
      throw new Error(`subnet ${cidr}: EC2 subnets are /16 to /28`);
    }
    ({ first: this.first, last: this.last } = usableRange(this.cidr));
  }

  /** Addresses EC2 may hand out: the CIDR minus the five reserved ones. */
  get usableCount(): number {
    return this.last - this.first + 1;
  }

  get freeCount(): number {
    return this.usableCount - this.used.size;
  }

  isUsable(ip: number): boolean {
    return ip >= this.first && ip <= this.last;
  }

  isUsed(ip: number): boolean {
    return this.used.has(ip);
  }

  /** A random free address, or undefined when the subnet is full. */
  allocateIp(): string | undefined {
    const count = this.usableCount;
    const start = this.random.int(count);
    for (let i = 0; i < count; i++) {
      const ip = this.first + ((start + i) % count);
      if (!this.used.has(ip)) {
        this.used.add(ip);
        return numberToIp(ip);
      }
    }
    return undefined;
  }

  /** Takes a caller-chosen address; false when it is reserved, outside the subnet or in use. */
  allocateSpecific(ip: number): boolean {
    if (!this.isUsable(ip) || this.used.has(ip)) return false;
    this.used.add(ip);
    return true;
  }

  /**
   * A random aligned /28 whose 16 addresses are all free and none reserved (so neither the first nor
   * the last /28 of the subnet ever qualifies), or undefined: EC2's InsufficientCidrBlocks.
   */
  allocatePrefix(): string | undefined {
    const blocks = this.cidr.size / ADDRESSES_PER_PREFIX;
    const start = this.random.int(blocks);
    for (let i = 0; i < blocks; i++) {
      const base = this.cidr.base + ((start + i) % blocks) * ADDRESSES_PER_PREFIX;
      if (this.blockFree(base)) {
        for (let a = base; a < base + ADDRESSES_PER_PREFIX; a++) this.used.add(a);
        return formatCidr(base, PREFIX_LENGTH);
      }
    }
    return undefined;
  }

  release(ip: number): void {
    this.used.delete(ip);
  }

  releasePrefix(base: number): void {
    for (let a = base; a < base + ADDRESSES_PER_PREFIX; a++) this.used.delete(a);
  }

  /** Marks `count` random free addresses as taken by someone outside the simulation. */
  takeByOthers(count: number): number {
    let taken = 0;
    while (taken < count && this.allocateIp() !== undefined) taken++;
    return taken;
  }

  private blockFree(base: number): boolean {
    if (base < this.first || base + ADDRESSES_PER_PREFIX - 1 > this.last) return false;
    for (let a = base; a < base + ADDRESSES_PER_PREFIX; a++) if (this.used.has(a)) return false;
    return true;
  }
}
