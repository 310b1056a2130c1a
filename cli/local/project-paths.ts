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

/** The moto server executable: the project virtualenv's, else one on PATH. */
export function motoServerCommand(env: NodeJS.ProcessEnv = process.env): string {
  const configured = env['AGENTOS_MOTO_SERVER'];
  if (configured !== undefined && configured !== '') return configured;
  const venv = join(projectRoot, '.toolchain', 'venv', 'bin', 'moto_server');
  return existsSync(venv) ? venv : 'moto_server';
}
