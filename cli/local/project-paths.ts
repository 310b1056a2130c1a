import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file lives in cli/local/). */
export const projectRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where local mode keeps its state: keys, pids, logs, per-node settings. */
export function localStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['AGENTOS_STATE_DIR'] ?? join(projectRoot, '.agentos');
}

/** Where reports are written. */
export function reportsDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['AGENTOS_REPORTS_DIR'] ?? join(projectRoot, 'reports');
}

/**
 * How to start moto server: `AGENTOS_MOTO_PYTHON` when set, else the project virtualenv's Python, else
 * `python3`, running our launcher, which makes DynamoDB operations atomic as in AWS.
 */
export function motoServerCommand(env: NodeJS.ProcessEnv = process.env): { command: string; args: string[] } {
  const venvPython = join(projectRoot, '.toolchain', 'venv', 'bin', 'python');
  const python = env['AGENTOS_MOTO_PYTHON'] ?? (existsSync(venvPython) ? venvPython : 'python3');
  return { command: python, args: [join(projectRoot, 'cli', 'local', 'moto_serialized_server.py')] };
}
