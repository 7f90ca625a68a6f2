/**
 * A small seeded PRNG (mulberry32). The simulator keeps one stream per concern (addresses, faults,
 * not-found windows) so that, for example, enabling faults does not change which addresses a run
 * hands out.
 */
export class SeededRandom {
  private state: number;

  constructor(seed: number, stream = 0) {
    // Mix the stream into the seed so that streams of one seed are unrelated.
    this.state = (Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) + Math.imul(stream + 1, 0xc2b2ae35)) >>> 0;
  }

  /** Uniform in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  chance(probability: number): boolean {
    return probability > 0 && this.next() < probability;
  }
}
