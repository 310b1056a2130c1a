import { nodeEndpoints, nodeTokens } from './node-access.ts';
import { bootPhase, checkPhases, finishRemote, preflightPhase, seedPhase } from './remote-phases.ts';
import { newRemoteContext } from './remote-context.ts';
import type { RemoteOptions } from './remote-context.ts';

/**
 * `agentos up` against AWS or an emulator (HLD §8.1): preflight → boot (the node's keys and alert
 * sender, then `cdk deploy`) → seed → wire → validate → report. Returns the exit code: 0 when green.
 */
export async function upRemote(options: RemoteOptions & { bootstrap: boolean }): Promise<number> {
  const context = await newRemoteContext('up', options);
  const { runner, report } = context;
  // A new sender identity waits for its verification e-mail to be confirmed, so `up` sends no test
  // alert on a deployed node; `validate --test-alert` does, once the operator is ready.
  report.alert_test.detail = 'not sent by up on a deployed node: run `agentos validate --test-alert`';
  try {
    await runner.run('preflight', (note) => preflightPhase(context, { bootstrap: options.bootstrap }, note));
    const { deployed } = await runner.run('boot', (note) => bootPhase(context, note));
    // Timed on its own: on an emulator that runs no Lambda, this starts the artifact host.
    const endpoints = await runner.run('endpoints', async (note) => {
      const found = await nodeEndpoints(context, deployed.outputs, { restart: true });
      note(`orchestrator ${found.orchestrator}, model policy ${found.modelPolicy}`);
      return found;
    });
    const tokens = await nodeTokens(context, deployed.outputs);
    await runner.run('seed', (note) => seedPhase(context, deployed.outputs, endpoints, tokens, note));
    await checkPhases(context, endpoints, tokens);
    report.outcome = 'green';
  } catch (error) {
    report.notes.push(`Stopped: ${error instanceof Error ? error.message : String(error)}`);
  }
  return finishRemote(context, {
    green: `AgentOS stage "${options.target.stage}" is up`,
    red: 'agentos up failed',
  });
}
