import { ensureNodeSigningKeys } from '../../aws/node-signing-keys.ts';
import { cdkDeploy, cdkDiff } from './deploy.ts';
import { nodeEndpoints, nodeTokens } from './node-access.ts';
import { checkPhases, deployedOutputs, finishRemote, recordDeployment } from './remote-phases.ts';
import { newRemoteContext } from './remote-context.ts';
import type { RemoteOptions } from './remote-context.ts';

/** The lines of a `cdk diff` that say what changes, without the CLI's banner. */
function diffSummary(output: string): string[] {
  return output
    .split('\n')
    .filter((line) =>
      /^\s*(\[[-+~]\]|Resources|Outputs|Parameters|IAM|Security|There were no differences)/.test(line),
    )
    .map((line) => (line.length > 160 ? `${line.slice(0, 157)}...` : line))
    .slice(0, 40);
}

/**
 * `agentos redeploy`: shows what changes (`cdk diff`), deploys code and configuration without
 * re-seeding (tenants keep what they changed), then validates. 0 when green.
 */
export async function redeployRemote(options: RemoteOptions): Promise<number> {
  const context = await newRemoteContext('redeploy', options);
  const { runner, report, out } = context;
  try {
    await runner.run('preflight', async () => {
      await deployedOutputs(context);
      return 'the stage is deployed';
    });
    const keys = await ensureNodeSigningKeys(context.client, context.target.stage);
    await runner.run('diff', async (note) => {
      const lines = diffSummary(await cdkDiff(context, keys));
      for (const line of lines) out.write(`    ${line}\n`);
      report.notes.push(`cdk diff:\n${lines.join('\n')}`);
      note(`${lines.filter((line) => /\[[-+~]\]/.test(line)).length} change(s)`);
    });
    const deployed = await runner.run('boot', async (note) => {
      const started = Date.now();
      const result = await cdkDeploy(context, keys);
      recordDeployment(context, result);
      note(`cdk deploy ${context.stackName}: ${Date.now() - started} ms`);
      return result;
    });
    runner.skip('seed', 'redeploy keeps the data tenants changed; nothing re-seeded');
    // Timed on its own: on an emulator that runs no Lambda, this starts the artifact host.
    const endpoints = await runner.run('endpoints', async (note) => {
      const found = await nodeEndpoints(context, deployed.outputs, { restart: true });
      note(`orchestrator ${found.orchestrator}, model policy ${found.modelPolicy}`);
      return found;
    });
    report.seeded = { sample_agent: 'sample-agent' };
    await checkPhases(context, endpoints, await nodeTokens(context, deployed.outputs));
    report.outcome = 'green';
  } catch (error) {
    report.notes.push(`Stopped: ${error instanceof Error ? error.message : String(error)}`);
  }
  return finishRemote(context, {
    green: `AgentOS stage "${options.target.stage}" redeployed`,
    red: 'agentos redeploy failed',
  });
}
