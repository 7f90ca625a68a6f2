/**
 * A process's footprint from /proc (Linux): resident memory from /proc/PID/status and CPU time
 * from /proc/PID/stat, sampled by the benchmarks from outside the process, as a node's monitoring
 * would see it.
 */
import { readFile } from 'node:fs/promises';

/** VmRSS in kB from the text of /proc/PID/status. */
export function parseVmRssKb(status: string): number {
  const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(status);
  if (!match?.[1]) throw new Error('no VmRSS line in /proc/PID/status');
  return Number(match[1]);
}

/**
 * utime + stime in clock ticks from the text of /proc/PID/stat. The command name (field 2) is in
 * parentheses and may hold spaces or parentheses itself, so fields are counted after the last ')'.
 */
export function parseCpuTicks(stat: string): number {
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) throw new Error('malformed /proc/PID/stat');
  return utime + stime;
}

/** CPU use in percent of one core over an interval. */
export function cpuPercent(ticks: number, ticksPerSecond: number, elapsedMs: number): number {
  return elapsedMs <= 0 ? 0 : ((ticks / ticksPerSecond) * 100_000) / elapsedMs;
}

export async function readRssKb(pid: number): Promise<number> {
  return parseVmRssKb(await readFile(`/proc/${pid}/status`, 'utf8'));
}

export async function readCpuTicks(pid: number): Promise<number> {
  return parseCpuTicks(await readFile(`/proc/${pid}/stat`, 'utf8'));
}

/** A thread's scheduler figures from /proc/PID/task/TID/schedstat, in milliseconds. */
export interface SchedStat {
  /** Time on a CPU. */
  runMs: number;
  /** Time ready to run but waiting for a CPU (its run queue). */
  waitMs: number;
}

/** The text of a schedstat file: "run_ns wait_ns timeslices". */
export function parseSchedstat(text: string): SchedStat {
  const [run, wait] = text.trim().split(/\s+/).map(Number);
  if (run === undefined || wait === undefined || !Number.isFinite(run) || !Number.isFinite(wait))
    throw new Error('malformed schedstat');
  return { runMs: run / 1e6, waitMs: wait / 1e6 };
}

/**
 * The main thread's scheduler figures (its thread id is the process id): where an event loop's
 * requests wait for it while it waits for a CPU. Undefined where the kernel keeps no schedstat.
 */
export async function readMainThreadSchedstat(pid: number): Promise<SchedStat | undefined> {
  try {
    return parseSchedstat(await readFile(`/proc/${pid}/task/${pid}/schedstat`, 'utf8'));
  } catch {
    return undefined;
  }
}
