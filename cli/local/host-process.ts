import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { ArtifactHostSettingsFile } from '../aws/artifact-host-main.ts';
import type { RemoteContext } from '../commands/remote/remote-context.ts';
import { isAlive, stopProcess } from './processes.ts';
import { projectRoot } from './project-paths.ts';

const ReadySchema = z.object({
  pid: z.number().int(),
  orchestrator_url: z.string(),
  model_policy_url: z.string(),
  notes: z.array(z.string()).default([]),
});

/** What a started node process serves, as its ready file says. */
export type NodeReady = z.infer<typeof ReadySchema>;

/**
 * Where `up --local`'s node exports its spans: the operator's `AGENTOS_OTLP_TRACES_URL` (in
 * `defaults`), else the configuration's `observability.otlp_traces_url`, else nowhere.
 */
export function otlpTracesUrlOf(
  defaults: { otlpTracesUrl?: string | undefined },
  observability: { otlp_traces_url?: string | undefined } | undefined,
): string | undefined {
  return defaults.otlpTracesUrl ?? observability?.otlp_traces_url;
}

/**
 * The settings of a local node's process: the artifact host (cli/aws/artifact-host-main.ts) for the
 * node's deployed stack on its emulator, on fixed ports (0 picks free ones), journaling the step
 * messages it works on in `inFlightFile`.
 */
export function nodeProcessSettings(
  deploy: RemoteContext,
  options: {
    orchestratorPort: number;
    modelPolicyPort: number;
    cacheDir: string;
    inFlightFile: string;
    /** Where the node exports its spans (OTLP/HTTP); none when absent. */
    otlpTracesUrl?: string | undefined;
  },
): ArtifactHostSettingsFile {
  if (deploy.target.kind !== 'endpoint') throw new Error('a local node runs on an emulator');
  const { credentials } = deploy.client;
  return {
    stackName: deploy.stackName,
    region: deploy.target.region,
    endpoint: deploy.target.endpoint,
    ...(credentials === undefined
      ? {}
      : {
          credentials: {
            accessKeyId: credentials.accessKeyId,
            secretAccessKey: credentials.secretAccessKey,
          },
        }),
    cacheDir: options.cacheDir,
    host: '127.0.0.1',
    orchestratorPort: options.orchestratorPort,
    modelPolicyPort: options.modelPolicyPort,
    inFlightFile: options.inFlightFile,
    accessLog: true,
    ...(options.otlpTracesUrl === undefined ? {} : { otlpTracesUrl: options.otlpTracesUrl }),
  };
}

/** Why the node process stopped, as its log says, and where its log is, for an error message. */
async function logTail(log: string | undefined): Promise<string> {
  if (log === undefined) return '';
  if (!existsSync(log)) return `; see ${log}`;
  // The log is appended to by every start: the last failure it names is this start's.
  const lines = (await readFile(log, 'utf8')).trimEnd().split('\n');
  const failure = lines.findLast((line) => line.includes('failed to start'));
  // A process that died some other way (a crash, a signal) says why in its last lines.
  const why = failure ?? lines.slice(-6).join(' | ');
  return `${why.trim() === '' ? '' : ` (${why.trim().slice(0, 1500)})`}; see ${log}`;
}

/**
 * Starts a local node's process with `settings` (written to `files.settings`, 0600: it holds the
 * emulator's keys) and waits, up to `timeoutMs`, for its ready file (stopping it when it is late). `detached` lets it outlive this
 * process (`agentos up --local`); its output goes to `files.log`, or nowhere without one.
 */
export async function startNodeProcess(
  settings: ArtifactHostSettingsFile,
  files: { settings: string; ready: string; log?: string },
  options: { detached: boolean; timeoutMs?: number },
): Promise<{ child: ChildProcess; ready: NodeReady }> {
  await rm(files.settings, { force: true });
  await writeFile(files.settings, JSON.stringify(settings, null, 2), { mode: 0o600 });
  await rm(files.ready, { force: true });
  const out = files.log === undefined ? 'ignore' : openSync(files.log, 'a');
  const child = spawn(
    process.execPath,
    [join(projectRoot, 'cli/aws/artifact-host-main.ts'), files.settings, files.ready],
    {
      detached: options.detached,
      stdio: ['ignore', out, out],
      env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '' },
    },
  );
  if (options.detached) child.unref();
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  while (!existsSync(files.ready)) {
    if (!isAlive(child.pid))
      throw new Error(`the node process exited during start-up${await logTail(files.log)}`);
    if (Date.now() > deadline) {
      await stopProcess(child.pid);
      throw new Error(
        `the node did not become ready within ${timeoutMs} ms${files.log === undefined ? '' : `; see ${files.log}`}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { child, ready: ReadySchema.parse(JSON.parse(await readFile(files.ready, 'utf8'))) };
}
