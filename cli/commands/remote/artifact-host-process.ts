import { spawn } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { ArtifactHostSettingsFile } from '../../aws/artifact-host-main.ts';
import { isAlive, stopProcess } from '../../local/processes.ts';
import { projectRoot } from '../../local/project-paths.ts';
import type { NodeEndpoints } from '../../reports/node-checks.ts';
import type { RemoteContext } from './remote-context.ts';

const ReadySchema = z.object({
  pid: z.number().int(),
  orchestrator_url: z.string(),
  model_policy_url: z.string(),
  notes: z.array(z.string()).default([]),
});

/** A running artifact host: its process and the local URLs of the deployed node's APIs. */
export type HostedNode = { pid: number; endpoints: NodeEndpoints; notes: string[]; log: string };

function hostFiles(context: RemoteContext) {
  const dir = context.paths.host;
  return {
    dir,
    settings: join(dir, 'settings.json'),
    ready: join(dir, 'ready.json'),
    log: join(dir, 'host.log'),
    cache: join(dir, 'code'),
  };
}

/**
 * Whether `pid` is this stage's artifact host: after a reboot a stale ready file's pid may belong
 * to any process, which must never be signalled.
 */
async function isOurHost(pid: number, settingsFile: string): Promise<boolean> {
  if (!isAlive(pid)) return false;
  try {
    const commandLine = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return (
      commandLine.some((arg) => arg.endsWith('artifact-host-main.ts')) && commandLine.includes(settingsFile)
    );
  } catch (error) {
    // No /proc (not Linux): the pid alone has to do.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return process.platform !== 'linux';
    throw error;
  }
}

/** The artifact host serving this stage, when one runs. */
export async function runningHost(context: RemoteContext): Promise<HostedNode | undefined> {
  const files = hostFiles(context);
  if (!existsSync(files.ready)) return undefined;
  let ready: unknown;
  try {
    ready = JSON.parse(await readFile(files.ready, 'utf8'));
  } catch {
    // A torn or corrupt ready file: no host to trust; a start writes a new one.
    return undefined;
  }
  const parsed = ReadySchema.safeParse(ready);
  if (!parsed.success || !(await isOurHost(parsed.data.pid, files.settings))) return undefined;
  return {
    pid: parsed.data.pid,
    endpoints: { orchestrator: parsed.data.orchestrator_url, modelPolicy: parsed.data.model_policy_url },
    notes: parsed.data.notes,
    log: files.log,
  };
}

/** Stops the stage's artifact host, if one runs. */
export async function stopHost(context: RemoteContext): Promise<'stopped' | 'not-running'> {
  const files = hostFiles(context);
  const host = await runningHost(context);
  await rm(files.ready, { force: true });
  return host === undefined ? 'not-running' : stopProcess(host.pid);
}

/**
 * Starts (or restarts) the artifact host for the stage's deployed stack: a background process that
 * serves the Lambda bundles CloudFormation published, with the environment it resolved for each, on
 * this machine (an emulator that cannot execute Lambda functions needs it; see cli/aws/artifact-host.ts).
 */
export async function startHost(context: RemoteContext, timeoutMs = 60_000): Promise<HostedNode> {
  await stopHost(context);
  const files = hostFiles(context);
  await mkdir(files.dir, { recursive: true });
  const { credentials } = context.client;
  const settings: ArtifactHostSettingsFile = {
    stackName: context.stackName,
    region: context.target.region,
    ...(context.target.kind === 'endpoint' ? { endpoint: context.target.endpoint } : {}),
    // Only the keys: the SDK marks the credential objects it was given with fields of its own.
    ...(credentials === undefined
      ? {}
      : {
          credentials: {
            accessKeyId: credentials.accessKeyId,
            secretAccessKey: credentials.secretAccessKey,
            ...(credentials.sessionToken === undefined ? {} : { sessionToken: credentials.sessionToken }),
          },
        }),
    cacheDir: files.cache,
    host: '127.0.0.1',
  };
  await writeFile(files.settings, JSON.stringify(settings, null, 2), { mode: 0o600 });
  const log = openSync(files.log, 'a');
  const child = spawn(
    process.execPath,
    [join(projectRoot, 'cli/aws/artifact-host-main.ts'), files.settings, files.ready],
    {
      detached: true,
      stdio: ['ignore', log, log],
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '' },
    },
  );
  child.unref();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (existsSync(files.ready)) {
      const host = await runningHost(context);
      if (host !== undefined) return host;
    }
    if (!isAlive(child.pid)) throw new Error(`the artifact host exited during start-up; see ${files.log}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  await stopProcess(child.pid);
  throw new Error(`the artifact host did not become ready within ${timeoutMs} ms; see ${files.log}`);
}
