import { spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { createServer } from 'node:net';
import { motoServerCommand } from './project-paths.ts';

/** A running AWS emulator endpoint. */
export type EmulatorHandle = { endpoint: string; pid: number | undefined; stop(): Promise<void> };

/**
 * Local mode only ever talks to an emulator, which accepts any credentials; set placeholder ones when
 * none are configured, so the SDK never goes looking for real ones.
 */
export function useEmulatorCredentials(env: NodeJS.ProcessEnv = process.env): void {
  env['AWS_ACCESS_KEY_ID'] ??= 'test';
  env['AWS_SECRET_ACCESS_KEY'] ??= 'test';
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** Resolves once `url` answers with any HTTP status, or rejects after `timeoutMs`. */
export async function waitForHttp(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      await fetch(url, { signal: AbortSignal.timeout(2000) });
      return;
    } catch (error) {
      lastError = error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`, { cause: lastError });
}

/**
 * Turns on what AgentOS needs of moto (Step Functions executing state machines). Other emulators
 * (LocalStack, MiniStack) execute state machines by default and have no such API; a 404 is fine.
 */
export async function configureEmulator(endpoint: string): Promise<'configured' | 'not-moto'> {
  try {
    const response = await fetch(`${endpoint}/moto-api/config`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ stepfunctions: { execute_state_machine: true } }),
      signal: AbortSignal.timeout(10_000),
    });
    return response.ok ? 'configured' : 'not-moto';
  } catch (error) {
    if (error instanceof DOMException && error.name === 'TimeoutError')
      throw new Error(`the emulator at ${endpoint} did not answer within 10 s`, { cause: error });
    // A reachable emulator without the API resets or refuses the path; an unreachable one is
    // reported by the next AWS call, with the endpoint in the message.
    if (error instanceof TypeError) return 'not-moto';
    throw error;
  }
}

/** The launcher's exit code when the installed moto or Werkzeug is not the pinned version. */
const refusedVersionExitCode = 3;

/**
 * Starts moto server on loopback. `detached` lets it outlive this process (local mode's `up`);
 * otherwise it is stopped with the handle (tests).
 */
export async function startMoto(
  options: { port?: number; logFile?: string; detached?: boolean } = {},
): Promise<EmulatorHandle> {
  const port = options.port ?? (await freePort());
  const out = options.logFile === undefined ? 'ignore' : openSync(options.logFile, 'a');
  const moto = motoServerCommand();
  const child = spawn(moto.command, [...moto.args, '-H', '127.0.0.1', '-p', String(port)], {
    stdio: ['ignore', out, out],
    detached: options.detached === true,
    env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: 'true' },
  });
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (error) => reject(new Error(`moto server could not start: ${error.message}`)));
    child.once('exit', (code) =>
      reject(
        new Error(
          code === refusedVersionExitCode
            ? 'moto server refused to start: the installed moto or Werkzeug is not the version pinned in ' +
                'cli/emulator-requirements.txt (run `bash cli/bootstrap.sh test` to install it)'
            : `moto server exited with code ${String(code)}`,
        ),
      ),
    );
  });
  const endpoint = `http://127.0.0.1:${port}`;
  await Promise.race([waitForHttp(`${endpoint}/moto-api/`, 60_000), exited]);
  await configureEmulator(endpoint);
  if (options.detached === true) child.unref();
  return {
    endpoint,
    pid: child.pid,
    async stop() {
      if (child.exitCode !== null) return;
      const done = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
