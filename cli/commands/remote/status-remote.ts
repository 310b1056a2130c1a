import { probeStatus } from '../../aws/status-probes.ts';
import { httpCheck } from '../../reports/checks.ts';
import { endpointUrl } from '../../reports/node-checks.ts';
import { runningHost } from './artifact-host-process.ts';
import { needsArtifactHost } from './node-access.ts';
import { finishRemote } from './remote-phases.ts';
import { newRemoteContext } from './remote-context.ts';
import type { RemoteOptions } from './remote-context.ts';

/**
 * `agentos status`: the stack's status and endpoints, the health of both APIs, the step queue's
 * depth and oldest message age, the step and settlement DLQs' depth and recent 5xx; a report. Exit 0
 * when nothing needs the operator. Status starts nothing: a stopped artifact host is reported, not
 * restarted.
 */
export async function statusRemote(options: RemoteOptions): Promise<number> {
  const context = await newRemoteContext('status', options);
  const { report, out } = context;
  try {
    const probes = await probeStatus(context.target, context.stackName, { env: context.env });
    report.health.push(...probes.checks);
    Object.assign(
      report.endpoints,
      { stack: context.stackName, region: context.target.region },
      probes.endpoints,
    );
    const deployed = probes.stack.value?.deployed === true;
    let endpoints = deployed
      ? {
          orchestrator: probes.endpoints['OrchestratorApiUrl'] ?? '',
          modelPolicy: probes.endpoints['ModelPolicyApiUrl'] ?? '',
        }
      : undefined;
    if (deployed && (await needsArtifactHost(context))) {
      const host = await runningHost(context);
      report.health.push({
        name: 'artifact host',
        outcome: host === undefined ? 'failed' : 'ok',
        duration_ms: 0,
        detail: host === undefined ? 'not running (`agentos validate` starts it)' : `pid ${host.pid}`,
      });
      endpoints = host?.endpoints;
    }
    if (endpoints !== undefined) {
      report.endpoints['orchestrator'] = endpoints.orchestrator;
      report.endpoints['model_policy'] = endpoints.modelPolicy;
      report.health.push(
        await httpCheck('orchestrator health', endpointUrl(endpoints.orchestrator, '/v1/health')),
        await httpCheck('model policy health', endpointUrl(endpoints.modelPolicy, '/v1/health')),
      );
    }
    report.outcome = deployed && report.health.every((check) => check.outcome !== 'failed') ? 'green' : 'red';
  } catch (error) {
    report.notes.push(`Stopped: ${error instanceof Error ? error.message : String(error)}`);
  }
  out.write(`AgentOS stage "${options.target.stage}" (${context.stackName}):\n`);
  for (const [name, value] of Object.entries(report.endpoints)) out.write(`  ${name}: ${value}\n`);
  for (const check of report.health)
    out.write(
      `  ${check.outcome === 'ok' ? '✔' : check.outcome === 'skipped' ? '–' : '✘'} ${check.name} (${check.detail})\n`,
    );
  return finishRemote(context, {
    green: `stage "${options.target.stage}" is healthy`,
    red: `stage "${options.target.stage}" needs attention`,
  });
}
