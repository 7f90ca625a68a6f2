/**
 * The agent's own time per CNI request: the recent list keeps exact values in a fixed space, and
 * the histogram's buckets tell apart the durations the ADD target is stated in.
 */
import { describe, expect, it } from 'vitest';
import { AgentMetrics } from '../../agent/metrics/agent-metrics.js';
import { CniRequestTimings, RecentCniRequests } from '../../agent/metrics/cni-request-timing.js';
import { ManualClock } from '../../time/manual-clock.js';

function bucketCounts(text: string, labels: string): Map<string, number> {
  const counts = new Map<string, number>();
  const pattern = new RegExp(
    `^eniipam_cni_request_duration_seconds_bucket\\{le="([^"]+)",${labels}\\} (\\d+)$`,
  );
  for (const line of text.split('\n')) {
    const m = pattern.exec(line);
    if (m) counts.set(m[1] ?? '', Number(m[2]));
  }
  return counts;
}

describe('RecentCniRequests', () => {
  it('keeps the last requests in order, numbered from the start, once it has wrapped', () => {
    const recent = new RecentCniRequests(3);
    for (let i = 0; i < 5; i++) recent.record(i % 2 === 0 ? 'add' : 'del', 'ok', i + 0.5, 100 + i);
    expect(recent.total).toBe(5);
    expect(recent.list()).toEqual([
      { seq: 2, command: 'add', result: 'ok', ms: 2.5, at: 102 },
      { seq: 3, command: 'del', result: 'ok', ms: 3.5, at: 103 },
      { seq: 4, command: 'add', result: 'ok', ms: 4.5, at: 104 },
    ]);
    expect(recent.list(4).map((r) => r.seq)).toEqual([4]);
    expect(recent.list(9)).toEqual([]);
  });

  it('keeps every command and result it is told, to the microsecond', () => {
    const recent = new RecentCniRequests(8);
    recent.record('unreadable', 'error', 0.0004, 1);
    recent.record('gc', 'try_again', 1234.56789, 2);
    recent.record('status', 'ok', 0.1234, 3);
    recent.record('check', 'error', 3, 4);
    expect(recent.list().map(({ command, result, ms }) => [command, result, ms])).toEqual([
      ['unreadable', 'error', 0],
      ['gc', 'try_again', 1234.568],
      ['status', 'ok', 0.123],
      ['check', 'error', 3],
    ]);
  });

  it('refuses a capacity that is not a positive integer', () => {
    expect(() => new RecentCniRequests(0)).toThrow(/capacity 0/);
    expect(() => new RecentCniRequests(2.5)).toThrow(/capacity 2.5/);
  });
});

describe('CniRequestTimings', () => {
  it('puts each request in the histogram bucket of its duration and in the recent list', async () => {
    const metrics = new AgentMetrics();
    const clock = new ManualClock(Date.UTC(2026, 0, 1));
    const timings = new CniRequestTimings(metrics, clock);
    timings.requestServed('add', 'ok', 0.4);
    timings.requestServed('add', 'ok', 0.9);
    timings.requestServed('add', 'ok', 1.7);
    timings.requestServed('add', 'ok', 4.2);
    await clock.advance(1_000);
    timings.requestServed('add', 'try_again', 20_000);
    const text = await metrics.registry.getSingleMetricAsString('eniipam_cni_request_duration_seconds');
    const ok = bucketCounts(text, 'command="add",result="ok"');
    expect(ok.get('0.00025')).toBe(0);
    expect(ok.get('0.0005')).toBe(1);
    expect(ok.get('0.001')).toBe(2);
    expect(ok.get('0.002')).toBe(3);
    expect(ok.get('0.005')).toBe(4);
    expect(ok.get('+Inf')).toBe(4);
    const waited = bucketCounts(text, 'command="add",result="try_again"');
    expect(waited.get('10')).toBe(0);
    expect(waited.get('20')).toBe(1);
    const sum = /^eniipam_cni_request_duration_seconds_sum\{command="add",result="ok"\} (\S+)$/m.exec(text);
    expect(Number(sum?.[1])).toBeCloseTo(0.0072, 9);
    expect(timings.recent.list().map((r) => [r.ms, r.at])).toEqual([
      [0.4, Date.UTC(2026, 0, 1)],
      [0.9, Date.UTC(2026, 0, 1)],
      [1.7, Date.UTC(2026, 0, 1)],
      [4.2, Date.UTC(2026, 0, 1)],
      [20_000, Date.UTC(2026, 0, 1) + 1_000],
    ]);
  });
});
