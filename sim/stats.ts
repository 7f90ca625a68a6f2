/** What a run did to the simulated EC2: the `ec2` block of the scenario report. */
export interface Ec2Stats {
  /** Requests received per action, throttled and failed ones included. */
  calls: Record<string, number>;
  /** Requests refused with RequestLimitExceeded. */
  throttled: number;
  /** Error responses by code (RequestLimitExceeded is counted in `throttled` only). */
  errors: Record<string, number>;
  /** Requests that got no response (fault injection). */
  timeouts: number;
}

export class Ec2StatsRecorder {
  private readonly data: Ec2Stats = { calls: {}, throttled: 0, errors: {}, timeouts: 0 };

  call(action: string): void {
    this.data.calls[action] = (this.data.calls[action] ?? 0) + 1;
  }

  throttled(): void {
    this.data.throttled++;
  }

  error(code: string): void {
    this.data.errors[code] = (this.data.errors[code] ?? 0) + 1;
  }

  timeout(): void {
    this.data.timeouts++;
  }

  snapshot(): Ec2Stats {
    return {
      calls: { ...this.data.calls },
      throttled: this.data.throttled,
      errors: { ...this.data.errors },
      timeouts: this.data.timeouts,
    };
  }
}
