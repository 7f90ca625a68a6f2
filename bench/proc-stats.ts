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
