import { readFileSync } from 'node:fs';

/**
 * CPU time (user + system, in ms) a process has used so far, read from Linux's `/proc/<pid>/stat`;
 * undefined where there is no such file (another OS, or the process is gone). Benchmarks print it
 * per unit of work beside wall time, to show which process bounds a throughput.
 */
export function processCpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  // Fields after the command name (which may hold spaces and parentheses) start at its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, in clock ticks (100 a second on Linux).
  const ticks = Number(fields[11]) + Number(fields[12]);
  return Number.isFinite(ticks) ? ticks * 10 : undefined;
}

/** This process's own CPU time so far (user + system), in ms. */
export function ownCpuMs(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1000;
}
