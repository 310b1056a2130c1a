import { spawnSync } from 'node:child_process';
import { dirname } from 'node:path';
import { expect } from 'vitest';
import { motoServerCommand } from '../../cli/local/project-paths.ts';

/**
 * Runs a Python script with the emulator's Python, the launcher's folder as its first argument (so
 * it can import the launcher: its patches applied, its server not started), and returns what the
 * script printed, parsed as JSON. Fails the test, with the script's stderr, when it does not exit 0.
 */
export function runLauncherScript<T>(script: string): T {
  const launcher = motoServerCommand();
  const run = spawnSync(launcher.command, ['-c', script, dirname(launcher.args[0]!)], {
    encoding: 'utf8',
    timeout: 120_000,
  });
  expect({ status: run.status, stderr: run.status === 0 ? '' : run.stderr }).toEqual({
    status: 0,
    stderr: '',
  });
  return JSON.parse(run.stdout) as T;
}
