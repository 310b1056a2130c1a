import { AgentOsClient } from '../../client/agentos-client.ts';
import { timeThreeStepRun } from '../../client/three-step-run.ts';
import { timedCheck } from '../../reports/checks.ts';
import type { BootedNode, UpContext } from './up-context.ts';

/** Wire: both services answer their health checks and the tenant sees its entitled models. */
export async function wire(
  context: UpContext,
  booted: BootedNode,
  tenantToken: string,
  note: (detail: string) => void,
): Promise<void> {
  const { report } = context;
  const { orchestrator_url: orchestrator, model_policy_url: modelPolicy } = booted.state.node;
  const healthy = (url: string) => async () => {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`answered ${response.status}`);
    return 'ok';
  };
  report.health.push(
    await timedCheck('orchestrator health', healthy(`${orchestrator}/v1/health`)),
    await timedCheck('model policy health', healthy(`${modelPolicy}/v1/health`)),
    await timedCheck('model policy lists entitled models', async () => {
      const response = await fetch(`${modelPolicy}/v1/models`, {
        headers: { authorization: `Bearer ${tenantToken}` },
      });
      const body = (await response.json()) as { data?: { id: string }[] };
      if (!response.ok) throw new Error(`answered ${response.status}`);
      return (body.data ?? []).map((m) => m.id).join(', ');
    }),
  );
  const failed = report.health.filter((check) => check.outcome !== 'ok');
  if (failed.length > 0) throw new Error(failed.map((check) => `${check.name}: ${check.detail}`).join('; '));
  note(`${report.health.length} health checks passed`);
}

/** Validate: a three-step smoke run reaches `run.completed` over SSE with gapless sequences. */
export async function validate(
  context: UpContext,
  booted: BootedNode,
  tenantToken: string,
  note: (detail: string) => void,
): Promise<void> {
  const { report } = context;
  const client = new AgentOsClient(booted.state.node.orchestrator_url, tenantToken);
  const started = Date.now();
  const check = await timedCheck('three-step run to run.completed over SSE', async () => {
    const run = await timeThreeStepRun(client, report.seeded['sample_agent'] ?? 'sample-agent', 'smoke');
    const gapless = run.sequences.every((s, i) => s === i + 1);
    if (run.status !== 'completed') throw new Error(`run ${run.runId} ended ${run.status}`);
    if (!gapless) throw new Error(`run ${run.runId} streamed sequences ${run.sequences.join(',')}`);
    return `run ${run.runId}: ${run.eventTypes.length} events, first event ${Math.round(run.firstEventMs)} ms, completed ${Math.round(run.terminalMs)} ms`;
  });
  check.duration_ms = Date.now() - started;
  report.smoke.push(check);
  if (check.outcome !== 'ok') throw new Error(check.detail);
  note(check.detail);
}
