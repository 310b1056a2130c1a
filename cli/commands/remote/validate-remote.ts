import { nodeEndpoints, nodeTokens } from './node-access.ts';
import { checkPhases, deployedOutputs, finishRemote } from './remote-phases.ts';
import { newRemoteContext } from './remote-context.ts';
import type { RemoteOptions } from './remote-context.ts';

/** `agentos validate`: the health checks and the smoke run of `up`, on demand. 0 when green. */
export async function validateRemote(options: RemoteOptions): Promise<number> {
  const context = await newRemoteContext('validate', options);
  const { report } = context;
  try {
    const outputs = await deployedOutputs(context);
    const endpoints = await nodeEndpoints(context, outputs, { restart: false });
    report.seeded = { sample_agent: 'sample-agent' };
    await checkPhases(context, endpoints, await nodeTokens(context, outputs));
    report.outcome = 'green';
  } catch (error) {
    report.notes.push(`Stopped: ${error instanceof Error ? error.message : String(error)}`);
  }
  return finishRemote(context, {
    green: `AgentOS stage "${options.target.stage}" is healthy`,
    red: 'agentos validate failed',
  });
}
