import { describe, expect, it } from 'vitest';
import { cpuPercent, parseCpuTicks, parseSchedstat, parseVmRssKb } from '../../bench/proc-stats.js';

describe('/proc parsing', () => {
  it('reads VmRSS from /proc/PID/status', () => {
    const status = 'Name:\tnode\nVmPeak:\t 1000000 kB\nVmRSS:\t   86420 kB\nRssAnon:\t 50000 kB\n';
    expect(parseVmRssKb(status)).toBe(86420);
  });

  it('refuses a status without VmRSS (a zombie has none)', () => {
    expect(() => parseVmRssKb('Name:\tnode\nState:\tZ (zombie)\n')).toThrow(/VmRSS/);
  });

  it('adds utime and stime, counting fields after the command name even when it holds ") ("', () => {
    // Fields: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
    const stat = '4242 (odd) (name) S 1 4242 4242 0 -1 4194560 500 0 0 0 123 45 0 0 20 0 11 0 100 0 0';
    expect(parseCpuTicks(stat)).toBe(168);
  });

  it("reads a thread's time on a CPU and waiting for one from schedstat (nanoseconds)", () => {
    expect(parseSchedstat('523000000 268500000 1622\n')).toEqual({ runMs: 523, waitMs: 268.5 });
    expect(() => parseSchedstat('')).toThrow(/schedstat/);
    expect(() => parseSchedstat('12 x 3')).toThrow(/schedstat/);
  });

  it('turns ticks into percent of one core', () => {
    expect(cpuPercent(100, 100, 10_000)).toBeCloseTo(10);
    expect(cpuPercent(5, 100, 10_000)).toBeCloseTo(0.5);
    expect(cpuPercent(5, 100, 0)).toBe(0);
  });
});
