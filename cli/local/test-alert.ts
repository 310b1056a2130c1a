import { readFile } from 'node:fs/promises';
import { systemClock } from '../../functions/shared/timing/clock.ts';
import { testAlarm } from '../../functions/shared/observability/alert-notifier.ts';
import type { CheckRecord } from '../reports/operator-report.ts';
import { AlertsSettingsSchema, localNotifier } from './alerts-process.ts';
import type { LocalState } from './local-state.ts';
import { readStoredAlerts } from './smtp-sink.ts';

/** How long the sink may take to store the test alert once the SMTP server took it. */
const deliveryTimeoutMs = 10_000;

/**
 * `agentos validate --test-alert` on a local node (HLD §9.3): sends a test alert through the node's
 * notifier (its dedup on the node's table, SMTP to its sink), then waits until the sink stored it.
 * The check's detail has both timings; a node without an alerts process fails the check.
 */
export async function localTestAlert(state: LocalState): Promise<CheckRecord> {
  const started = Date.now();
  const name = 'alert e-mail';
  try {
    if (state.alerts === undefined)
      throw new Error(
        'the node has no alerts process (started by an older agentos): run `agentos up --local` again',
      );
    const settings = AlertsSettingsSchema.parse(
      JSON.parse(await readFile(state.alerts.settings_file, 'utf8')),
    );
    const notifier = localNotifier({ ...settings, smtp_port: state.alerts.smtp_port }, systemClock);
    const before = new Set((await readStoredAlerts(state.alerts.mail_dir)).map((mail) => mail.file));
    const firedAtMs = Date.now();
    const outcome = await notifier.notify({
      alarm: testAlarm,
      nodeId: state.node_id,
      stage: settings.stage,
      value: 1,
      firedAtMs,
      test: true,
    });
    if (!outcome.sent) throw new Error('the notifier did not send the test alert');
    const sentMs = Date.now() - started;
    const deadline = Date.now() + deliveryTimeoutMs;
    for (;;) {
      const arrived = (await readStoredAlerts(state.alerts.mail_dir)).find(
        (mail) => !before.has(mail.file) && mail.alarmId === testAlarm.id,
      );
      if (arrived !== undefined) {
        const total = Date.now() - started;
        return {
          name,
          outcome: 'ok',
          duration_ms: total,
          detail: `test alert sent over SMTP to 127.0.0.1:${state.alerts.smtp_port} in ${sentMs} ms (attempt ${outcome.attempts}) and stored by the node's SMTP sink after ${total} ms: ${arrived.file}`,
        };
      }
      if (Date.now() > deadline)
        throw new Error(
          `the SMTP server took the test alert but no e-mail reached ${state.alerts.mail_dir} within ${deliveryTimeoutMs} ms`,
        );
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } catch (error) {
    return {
      name,
      outcome: 'failed',
      duration_ms: Date.now() - started,
      detail: error instanceof Error ? error.message : String(error),
    };
  }
}
