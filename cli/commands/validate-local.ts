import { humanOutput } from './cli-output.ts';
import { readLocalState } from '../local/local-state.ts';
import { reportsDir } from '../local/project-paths.ts';
import { localTestAlert } from '../local/test-alert.ts';
import { finishOperatorReport, newOperatorReport } from '../reports/operator-report.ts';
import { PhaseRunner } from '../reports/phase-runner.ts';

/**
 * `agentos validate --local --test-alert` (HLD §9.3): sends a test alert through the running local
 * node's notifier and SMTP sink, confirms the sink stored it, and writes a validate report whose
 * alert section has the result and its timings. 0 when the e-mail arrived.
 */
export async function validateLocalTestAlert(options: {
  nodeId: string;
  out?: NodeJS.WritableStream;
}): Promise<number> {
  const out = options.out ?? humanOutput();
  const runner = new PhaseRunner(out);
  const report = newOperatorReport('validate', options.nodeId, 'not sent');
  report.phases = runner.phases;
  const state = await readLocalState(options.nodeId);
  if (state === undefined) {
    report.notes.push(`No local node "${options.nodeId}" has been started (run \`agentos up --local\`).`);
  } else {
    report.seeded = { ...state.seeded };
    report.endpoints = {
      orchestrator: state.node.orchestrator_url,
      model_policy: state.node.model_policy_url,
      ...(state.alerts === undefined ? {} : { smtp_sink: `smtp://127.0.0.1:${state.alerts.smtp_port}` }),
    };
    try {
      await runner.run('alert test', async (note) => {
        report.alert_test = await localTestAlert(state);
        if (report.alert_test.outcome !== 'ok') throw new Error(report.alert_test.detail);
        note(report.alert_test.detail);
      });
      report.outcome = 'green';
    } catch (error) {
      report.notes.push(`Stopped: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const written = await finishOperatorReport(reportsDir(), report);
  out.write(
    `${report.outcome === 'green' ? '✔ test alert delivered' : '✘ test alert not delivered'} — report: ${written.markdown}\n`,
  );
  return report.outcome === 'green' ? 0 : 1;
}
