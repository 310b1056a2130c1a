import { humanOutput } from './cli-output.ts';
import { readLocalState } from '../local/local-state.ts';
import { isAlive } from '../local/processes.ts';
import { defaultMailboxCaps, mailboxFull, mailboxUsage, readStoredAlerts } from '../local/smtp-sink.ts';
import { testAlarm } from '../../functions/shared/observability/alert-notifier.ts';
import { httpCheck } from '../reports/checks.ts';
import { reportsDir } from '../local/project-paths.ts';
import { newOperatorReport, writeOperatorReport } from '../reports/operator-report.ts';
import type { CheckRecord } from '../reports/operator-report.ts';

/** `agentos status --local`: what runs, whether it answers, and a report. Exit 0 when healthy. */
export async function statusLocal(options: { nodeId: string; out?: NodeJS.WritableStream }): Promise<number> {
  const out = options.out ?? humanOutput();
  const state = await readLocalState(options.nodeId);
  const report = newOperatorReport('status', options.nodeId, 'not part of status');
  report.seeded = state?.seeded ?? {};
  if (state === undefined) {
    report.notes.push(`No local node "${options.nodeId}" has been started (run \`agentos up --local\`).`);
  } else {
    report.endpoints = {
      orchestrator: state.node.orchestrator_url,
      model_policy: state.node.model_policy_url,
      dashboard: `${state.node.orchestrator_url}/dashboard`,
      aws_emulator: state.emulator.endpoint,
      ...(state.stack === undefined ? {} : { stack: state.stack.name }),
      table: state.resources.table,
    };
    report.health.push(
      {
        name: 'node process',
        outcome: isAlive(state.node.pid) ? 'ok' : 'failed',
        duration_ms: 0,
        detail: `pid ${state.node.pid ?? 'unknown'}`,
      },
      ...(state.emulator.managed
        ? [
            {
              name: 'emulator process',
              outcome: isAlive(state.emulator.pid) ? 'ok' : 'failed',
              duration_ms: 0,
              detail: `pid ${state.emulator.pid ?? 'unknown'}`,
            } as CheckRecord,
          ]
        : []),
      ...(state.alerts === undefined
        ? []
        : [
            {
              name: 'alerts process (SMTP sink, alarm evaluator)',
              outcome: isAlive(state.alerts.pid) ? 'ok' : 'failed',
              duration_ms: 0,
              detail: `pid ${state.alerts.pid ?? 'unknown'}, smtp://127.0.0.1:${state.alerts.smtp_port}`,
            } as CheckRecord,
          ]),
      await httpCheck('emulator endpoint', state.emulator.endpoint),
      await httpCheck('orchestrator health', `${state.node.orchestrator_url}/v1/health`),
      await httpCheck('model policy health', `${state.node.model_policy_url}/v1/health`),
    );
    if (state.alerts !== undefined) {
      const mails = await readStoredAlerts(state.alerts.mail_dir);
      const tests = mails.filter((mail) => mail.alarmId === testAlarm.id).length;
      report.endpoints['smtp_sink'] = `smtp://127.0.0.1:${state.alerts.smtp_port}`;
      report.notes.push(
        `Alert e-mails received by the SMTP sink: ${mails.length} (${mails.length - tests} alerts, ${tests} test alerts) in ${state.alerts.mail_dir}`,
      );
      const usage = await mailboxUsage(state.alerts.mail_dir);
      if (mailboxFull(usage))
        report.notes.push(
          `The SMTP sink's mailbox is full (${usage.files} files, ${usage.bytes} bytes; caps ${defaultMailboxCaps.maxFiles} files, ${defaultMailboxCaps.maxBytes} bytes): new alerts are refused (452) until stored ones are removed from ${state.alerts.mail_dir}`,
        );
    }
    report.outcome = report.health.every((check) => check.outcome === 'ok') ? 'green' : 'red';
  }
  report.finished_at = new Date().toISOString();
  const written = await writeOperatorReport(reportsDir(), report);
  out.write(
    `AgentOS local node "${options.nodeId}": ${report.outcome === 'green' ? 'running' : state === undefined ? 'not started' : 'unhealthy'}\n`,
  );
  for (const [name, url] of Object.entries(report.endpoints)) out.write(`  ${name}: ${url}\n`);
  for (const check of report.health)
    out.write(`  ${check.outcome === 'ok' ? '✔' : '✘'} ${check.name} (${check.detail})\n`);
  for (const note of report.notes) out.write(`  ${note}\n`);
  out.write(`report: ${written.markdown}\n`);
  return report.outcome === 'green' ? 0 : 1;
}
