import { readLocalState } from '../local/local-state.ts';
import { isAlive } from '../local/processes.ts';
import { reportsDir } from '../local/project-paths.ts';
import { writeOperatorReport } from '../reports/operator-report.ts';
import type { CheckRecord, OperatorReport } from '../reports/operator-report.ts';

async function probe(name: string, url: string): Promise<CheckRecord> {
  const started = Date.now();
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
    return {
      name,
      outcome: response.status < 500 ? 'ok' : 'failed',
      duration_ms: Date.now() - started,
      detail: `HTTP ${response.status}`,
    };
  } catch (error) {
    return {
      name,
      outcome: 'failed',
      duration_ms: Date.now() - started,
      detail: error instanceof Error ? error.message : String(error),
    };
  }
}

/** `agentos status --local`: what runs, whether it answers, and a report. Exit 0 when healthy. */
export async function statusLocal(options: { nodeId: string; out?: NodeJS.WritableStream }): Promise<number> {
  const out = options.out ?? process.stdout;
  const state = await readLocalState(options.nodeId);
  const report: OperatorReport = {
    action: 'status',
    node_id: options.nodeId,
    mode: 'local',
    started_at: new Date().toISOString(),
    finished_at: '',
    outcome: 'red',
    phases: [],
    endpoints: {},
    seeded: state?.seeded ?? {},
    health: [],
    smoke: [],
    alert_test: { name: 'alert e-mail', outcome: 'skipped', duration_ms: 0, detail: 'not part of status' },
    notes: [],
  };
  if (state === undefined) {
    report.notes.push(`No local node "${options.nodeId}" has been started (run \`agentos up --local\`).`);
  } else {
    report.endpoints = {
      orchestrator: state.node.orchestrator_url,
      model_policy: state.node.model_policy_url,
      aws_emulator: state.emulator.endpoint,
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
      await probe('emulator endpoint', state.emulator.endpoint),
      await probe('orchestrator health', `${state.node.orchestrator_url}/v1/health`),
      await probe('model policy health', `${state.node.model_policy_url}/v1/health`),
    );
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
