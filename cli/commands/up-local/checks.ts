import { smokeRunCheck, wireChecks } from '../../reports/node-checks.ts';
import type { NodeEndpoints } from '../../reports/node-checks.ts';
import type { BootedNode, UpContext } from './up-context.ts';

function endpointsOf(booted: BootedNode): NodeEndpoints {
  return {
    orchestrator: booted.state.node.orchestrator_url,
    modelPolicy: booted.state.node.model_policy_url,
  };
}

/** Wire: both services answer their health checks and the tenant sees its entitled models. */
export async function wire(
  context: UpContext,
  booted: BootedNode,
  tenantToken: string,
  note: (detail: string) => void,
): Promise<void> {
  note(await wireChecks(context.report, endpointsOf(booted), tenantToken));
}

/** Validate: a three-step smoke run reaches `run.completed` over SSE with gapless sequences. */
export async function validate(
  context: UpContext,
  booted: BootedNode,
  tenantToken: string,
  note: (detail: string) => void,
): Promise<void> {
  const agent = context.report.seeded['sample_agent'] ?? 'sample-agent';
  note(await smokeRunCheck(context.report, endpointsOf(booted), tenantToken, agent));
}
