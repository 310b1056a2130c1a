import { readFileSync } from 'node:fs';

/** True when the process has exited and only waits to be reaped (Linux; elsewhere never). */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The state letter follows the command name, which is in parentheses and may hold spaces.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z';
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return false;
    throw error;
  }
}

/** True when a process with this pid exists, has not exited (a zombie has), and may be signaled by us. */
export function isAlive(pid: number | null | undefined): boolean {
  if (pid === null || pid === undefined) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  return !isZombie(pid);
}

/** Stops a process (its group when it leads one): SIGTERM, then SIGKILL after `graceMs`. */
export async function stopProcess(
  pid: number | null | undefined,
  graceMs = 5000,
): Promise<'stopped' | 'not-running'> {
  if (!isAlive(pid)) return 'not-running';
  const target = pid as number;
  const signal = (sig: NodeJS.Signals) => {
    try {
      process.kill(-target, sig);
    } catch {
      try {
        process.kill(target, sig);
      } catch (error) {
        // ESRCH: already gone, which is what was wanted.
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    }
  };
  signal('SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isAlive(target)) return 'stopped';
    await new Promise((r) => setTimeout(r, 100));
  }
  signal('SIGKILL');
  return 'stopped';
}
