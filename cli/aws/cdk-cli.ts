import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repositoryRoot } from '../../infra/build/bundle-layout.ts';

/** What a CDK CLI run printed, and how it ended. */
export type CdkResult = { code: number | null; output: string };

/**
 * Runs the project's pinned CDK CLI (`node_modules/.bin/cdk`) with only the environment it needs
 * (PATH, HOME, telemetry off) plus `env`; everything it prints is kept, and also appended to
 * `logFile` when given. It is stopped after `timeoutMs` (an hour by default).
 */
export function runCdk(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; logFile?: string; timeoutMs?: number } = {},
): Promise<CdkResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(join(repositoryRoot, 'node_modules', '.bin', 'cdk'), args, {
      cwd: options.cwd ?? repositoryRoot,
      env: {
        PATH: process.env['PATH'] ?? '',
        HOME: process.env['HOME'] ?? tmpdir(),
        CDK_DISABLE_CLI_TELEMETRY: 'true',
        ...options.env,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    let output = '';
    // A CLI that hangs (a stuck stack, an unreachable endpoint) ends with its whole process group.
    const timeoutMs = options.timeoutMs ?? 60 * 60_000;
    const timer = setTimeout(() => {
      output += `\nagentos: cdk ${args[0] ?? ''} stopped after ${Math.round(timeoutMs / 60_000)} min\n`;
      try {
        process.kill(-(child.pid ?? 0), 'SIGKILL');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
      }
    }, timeoutMs);
    const log =
      options.logFile === undefined ? undefined : createWriteStream(options.logFile, { flags: 'a' });
    const keep = (chunk: string) => {
      output += chunk;
      log?.write(chunk);
    };
    child.stdout.setEncoding('utf8').on('data', keep);
    child.stderr.setEncoding('utf8').on('data', keep);
    child.once('error', (error) => {
      clearTimeout(timer);
      log?.end();
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      log?.end();
      resolve({ code, output });
    });
  });
}

/** `--context key=value` pairs for the CLI. */
export function contextArgs(context: Record<string, string>): string[] {
  return Object.entries(context).flatMap(([key, value]) => ['--context', `${key}=${value}`]);
}

/** The last lines of a CLI run, for an error message (the whole output is in the log file). */
export function tail(output: string, lines = 12): string {
  return output.trimEnd().split('\n').slice(-lines).join('\n');
}
