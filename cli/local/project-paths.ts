import { maybeEnv, optionalEnv } from '../../functions/shared/config/env.ts';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file lives in cli/local/). */
export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where local mode keeps its state: keys, pids, logs, per-node settings. */
export function localStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return optionalEnv('AGENTOS_STATE_DIR', join(projectRoot, '.agentos'), env);
}

/** Where reports are written. */
export function reportsDir(env: NodeJS.ProcessEnv = process.env): string {
  return optionalEnv('AGENTOS_REPORTS_DIR', join(projectRoot, 'reports'), env);
}

/**
 * How to start moto server: `AGENTOS_MOTO_PYTHON` when set, else the project virtualenv's Python, else
 * `python3`, running our launcher, which makes DynamoDB operations atomic as in AWS.
 */
export function motoServerCommand(env: NodeJS.ProcessEnv = process.env): { command: string; args: string[] } {
  const venvPython = join(projectRoot, '.toolchain', 'venv', 'bin', 'python');
  // The virtualenv counts only once moto is installed in it (a failed install leaves a bare venv).
  const venvReady = existsSync(join(projectRoot, '.toolchain', 'venv', 'bin', 'moto_server'));
  const python = maybeEnv('AGENTOS_MOTO_PYTHON', env) ?? (venvReady ? venvPython : 'python3');
  return { command: python, args: [join(projectRoot, 'cli', 'local', 'moto_serialized_server.py')] };
}
