import { readFile, rename, writeFile } from 'node:fs/promises';
import { stageAlarms } from '../../functions/shared/observability/alarm-catalog.ts';
import { systemClock } from '../../functions/shared/timing/clock.ts';
import { scopes } from '../../functions/shared/auth/auth-context.ts';
import { AlarmEvaluator } from './alarm-evaluator.ts';
import { AlertsSettingsSchema, alertsAwsConfig, localNotifier } from './alerts-process.ts';
import { readLocalState } from './local-state.ts';
import { localTokenIssuer } from './local-tokens.ts';
import { localSignalSource } from './local-signals.ts';
import { startSmtpSink } from './smtp-sink.ts';

function log(
  level: 'INFO' | 'WARN' | 'ERROR',
  message: string,
  attributes: Record<string, unknown> = {},
): void {
  console.log(JSON.stringify({ level, message, ...attributes, timestamp: new Date().toISOString() }));
}

/**
 * The oldest step message age from the node's capacity report (`GET /v1/admin/capacity`), read with
 * a short-lived operator token the node's signing key signs.
 */
function oldestStepAge(nodeId: string, orchestratorUrl: string): () => Promise<number | null> {
  return async () => {
    const state = await readLocalState(nodeId);
    if (state === undefined) return null;
    const token = await (
      await localTokenIssuer(state)
    ).issue({
      tenantId: 'operator',
      subject: 'alerts@local',
      scopes: [scopes.operator],
      ttlSeconds: 120,
    });
    const response = await fetch(`${orchestratorUrl}/v1/admin/capacity`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(3_000),
    });
    if (!response.ok) throw new Error(`the capacity report answered ${response.status}`);
    const body = (await response.json()) as { step_queue?: { oldest_message_age_ms?: number | null } };
    const age = body.step_queue?.oldest_message_age_ms;
    return typeof age === 'number' ? age / 1000 : null;
  };
}

/**
 * A local node's alerts process (HLD §9.3): its SMTP sink, storing every message as a `.eml` file,
 * and the alarm evaluator reading the node's signals once a period and e-mailing through the sink.
 */
async function main(): Promise<void> {
  const [settingsPath, readyPath] = process.argv.slice(2);
  if (settingsPath === undefined || readyPath === undefined)
    throw new Error('usage: alerts-process-main.ts <settings.json> <ready.json>');
  const settings = AlertsSettingsSchema.parse(JSON.parse(await readFile(settingsPath, 'utf8')));
  const sink = await startSmtpSink({ dir: settings.mail_dir, port: settings.smtp_port, host: settings.host });
  const source = localSignalSource({
    nodeLog: settings.node_log,
    healthUrls: settings.health_urls,
    aws: alertsAwsConfig(settings),
    deadLetterQueueUrls: [
      settings.dead_letter_queue_url,
      ...(settings.settlement_dead_letter_queue_url === undefined
        ? []
        : [settings.settlement_dead_letter_queue_url]),
    ],
    oldestStepAgeSeconds: oldestStepAge(settings.node_id, settings.orchestrator_url),
    ...(settings.settlement_queue_url === undefined
      ? {}
      : { settlementQueueUrl: settings.settlement_queue_url }),
    onReadError: (signal, error) =>
      log('WARN', 'alarm signal unreadable; its sample is no data this period', {
        signal,
        error: error instanceof Error ? error.message : String(error),
      }),
  });
  const evaluator = new AlarmEvaluator({
    // One evaluation period here is the local period, whatever CloudWatch's is.
    alarms: stageAlarms(settings.thresholds).map((alarm) => ({
      ...alarm,
      period_seconds: settings.period_seconds,
    })),
    source,
    notifier: localNotifier({ ...settings, smtp_port: sink.port }, systemClock),
    clock: systemClock,
    nodeId: settings.node_id,
    stage: settings.stage,
  });
  const stop = new AbortController();
  const shutdown = () => stop.abort();
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  // Written whole and then renamed: the starter polls for the file and must never read it half-written.
  await writeFile(`${readyPath}.tmp`, JSON.stringify({ pid: process.pid, smtp_port: sink.port }));
  await rename(`${readyPath}.tmp`, readyPath);
  log('INFO', 'alerts process ready', { smtp_port: sink.port, period_seconds: settings.period_seconds });
  let evictionsLogged = 0;
  await evaluator.run(settings.period_seconds * 1000, stop.signal, (result) => {
    if (evaluator.evictions > evictionsLogged) {
      log('WARN', 'alarm streaks evicted', { evictions: evaluator.evictions - evictionsLogged });
      evictionsLogged = evaluator.evictions;
    }
    if ('error' in result) {
      log('ERROR', 'alarm evaluation failed', { error: String(result.error) });
      return;
    }
    for (const decision of result.filter((entry) => entry.fired)) log('WARN', 'alarm fired', { ...decision });
  });
  source.close();
  await sink.close();
}

main().catch((error: unknown) => {
  log('ERROR', 'alerts process failed to start', {
    error: error instanceof Error ? error.message : String(error),
  });
  process.exit(1);
});
