import { spawn } from 'node:child_process';
import { existsSync, openSync } from 'node:fs';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { AwsClientConfig } from '../../functions/shared/aws/client-config.ts';
import { AlarmOverridesSchema } from '../../functions/shared/observability/alarm-catalog.ts';
import { DynamoAlertDedup } from '../../functions/shared/observability/adapters/dynamo-alert-dedup.ts';
import { AlertNotifier } from '../../functions/shared/observability/alert-notifier.ts';
import { smtpTransport } from '../../functions/shared/observability/alert-smtp.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';
import type { Clock } from '../../functions/shared/timing/clock.ts';
import { isAlive, stopProcess } from './processes.ts';
import { projectRoot } from './project-paths.ts';

/**
 * The settings of a local node's alerts process (cli/local/alerts-process-main.ts): its SMTP sink,
 * where the notifier sends and dedups, and what the evaluator reads. No secrets: the sink takes
 * mail without authentication on loopback, and the emulator's keys come from the environment.
 */
export const AlertsSettingsSchema = z.strictObject({
  node_id: z.string().min(1),
  stage: z.string().min(1),
  host: z.string().min(1).default('127.0.0.1'),
  /** The SMTP sink's port; 0 lets the sink pick a free one (the ready file and the node state say which). */
  smtp_port: z.int().min(0).max(65_535),
  mail_dir: z.string().min(1),
  from: z.email(),
  to: z.array(z.email()).min(1),
  window_ms: z.int().min(1_000),
  period_seconds: z.int().min(1),
  thresholds: AlarmOverridesSchema.default({}),
  region: z.string().min(1),
  endpoint: z.string().min(1),
  table: z.string().min(1),
  dead_letter_queue_url: z.string().min(1),
  /** The settlement queue (HLD §5.3); absent in the settings of a process started before it. */
  settlement_queue_url: z.string().min(1).optional(),
  /** The settlement queue's DLQ (HLD §5.3); absent in the settings of a process started before it. */
  settlement_dead_letter_queue_url: z.string().min(1).optional(),
  node_log: z.string().min(1),
  health_urls: z.array(z.string().min(1)),
  /** The orchestrator, whose capacity report gives the oldest step age (read with an operator token). */
  orchestrator_url: z.string().min(1),
});

export type AlertsSettings = z.output<typeof AlertsSettingsSchema>;

/** The SDK settings of the emulator the alerts process dedups on. */
export function alertsAwsConfig(settings: Pick<AlertsSettings, 'region' | 'endpoint'>): AwsClientConfig {
  return {
    region: settings.region,
    endpoint: settings.endpoint,
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000, throwOnRequestTimeout: true },
  };
}

/**
 * The local node's notifier: e-mail over SMTP to its sink, deduplicated on the node's table (the
 * same conditional write the deployed node makes). `validate --test-alert` sends through this too.
 */
export function localNotifier(settings: AlertsSettings, clock: Clock): AlertNotifier {
  return new AlertNotifier({
    dedup: new DynamoAlertDedup(createDocumentClient(alertsAwsConfig(settings)), settings.table),
    transport: smtpTransport({
      host: settings.host,
      port: settings.smtp_port,
      secure: false,
      from: settings.from,
      to: settings.to,
      timeout_ms: 5_000,
    }),
    clock,
    windowMs: settings.window_ms,
    maxAttempts: 3,
    backoffMs: 200,
  });
}

const ReadySchema = z.object({ pid: z.int(), smtp_port: z.int() });

/** Files of the alerts process: its settings, ready file and log. */
export function alertsFiles(nodeDir: string) {
  return {
    settings: join(nodeDir, 'alerts-settings.json'),
    ready: join(nodeDir, 'alerts-ready.json'),
    log: join(nodeDir, 'alerts.log'),
  };
}

/**
 * Starts the alerts process (SMTP sink and alarm evaluator) of a local node, detached so it
 * outlives `up`, and waits up to `timeoutMs` for its ready file.
 */
export async function startAlertsProcess(
  settings: AlertsSettings,
  files: ReturnType<typeof alertsFiles>,
  options: { detached: boolean; timeoutMs?: number; env?: NodeJS.ProcessEnv },
): Promise<{ pid: number; smtpPort: number }> {
  await writeFile(files.settings, JSON.stringify(settings, null, 2), { mode: 0o600 });
  await rm(files.ready, { force: true });
  const out = openSync(files.log, 'a');
  const env = options.env ?? process.env;
  const child = spawn(
    process.execPath,
    [join(projectRoot, 'cli/local/alerts-process-main.ts'), files.settings, files.ready],
    {
      detached: options.detached,
      stdio: ['ignore', out, out],
      env: {
        PATH: env['PATH'] ?? '',
        HOME: env['HOME'] ?? '',
        ...(env['AGENTOS_STATE_DIR'] === undefined ? {} : { AGENTOS_STATE_DIR: env['AGENTOS_STATE_DIR'] }),
        // The emulator's keys (cli/local/emulator.ts sets test keys when there are none).
        AWS_ACCESS_KEY_ID: env['AWS_ACCESS_KEY_ID'] ?? 'test',
        AWS_SECRET_ACCESS_KEY: env['AWS_SECRET_ACCESS_KEY'] ?? 'test',
      },
    },
  );
  if (options.detached) child.unref();
  const deadline = Date.now() + (options.timeoutMs ?? 15_000);
  while (!existsSync(files.ready)) {
    if (!isAlive(child.pid)) throw new Error(`the alerts process exited during start-up; see ${files.log}`);
    if (Date.now() > deadline) {
      await stopProcess(child.pid);
      throw new Error(`the alerts process did not become ready; see ${files.log}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const ready = ReadySchema.parse(JSON.parse(await readFile(files.ready, 'utf8')));
  return { pid: ready.pid, smtpPort: ready.smtp_port };
}
