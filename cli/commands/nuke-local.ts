import { humanOutput } from './cli-output.ts';
import { removeNodeStack } from '../local/local-deploy.ts';
import { localClientConfig } from '../local/local-target.ts';
import { readLocalState, removeLocalState } from '../local/local-state.ts';
import { stopProcess } from '../local/processes.ts';
import { reportsDir } from '../local/project-paths.ts';
import { newOperatorReport, writeOperatorReport } from '../reports/operator-report.ts';
import { PhaseRunner } from '../reports/phase-runner.ts';
import { confirm } from './confirm.ts';

/**
 * `agentos nuke --local`: stops what `up --local` started (the node process, and the emulator it
 * started, whose data goes with it), deletes the node's stack and signing keys from an external
 * emulator, removes the local state, and writes a report. Asks first unless `yes`.
 */
export async function nukeLocal(options: {
  nodeId: string;
  yes: boolean;
  out?: NodeJS.WritableStream;
}): Promise<number> {
  const out = options.out ?? humanOutput();
  if (!options.yes) {
    const agreed = await confirm(`Stop local node "${options.nodeId}" and delete its data and keys? [y/N] `);
    if (!agreed) {
      out.write('Nothing was changed (confirm interactively or pass --yes).\n');
      return 1;
    }
  }
  const runner = new PhaseRunner(out);
  const state = await readLocalState(options.nodeId);
  const report = newOperatorReport('nuke', options.nodeId, 'not part of nuke');
  report.phases = runner.phases;
  try {
    await runner.run('stop node', async (note) => {
      if (state === undefined) return note('no node state found');
      const alerts =
        state.alerts === undefined
          ? ''
          : `, alerts process and SMTP sink ${await stopProcess(state.alerts.pid)}`;
      note(`node process ${await stopProcess(state.node.pid)}${alerts}`);
    });
    await runner.run('remove resources', async (note) => {
      if (state === undefined) return note('nothing recorded');
      if (state.emulator.managed) {
        note(`emulator ${await stopProcess(state.emulator.pid)} (its data goes with it)`);
      } else if (state.stack === undefined) {
        note(`no stack recorded (a node of an older agentos): nothing deleted at ${state.emulator.endpoint}`);
      } else {
        const { name, region } = state.stack;
        await removeNodeStack(
          localClientConfig(options.nodeId, region, state.emulator.endpoint),
          name,
          options.nodeId,
        );
        note(
          `deleted the stack ${name} (table, queues, state machine) and the signing keys at ${state.emulator.endpoint}`,
        );
      }
    });
    await runner.run('remove local state', async (note) => {
      await removeLocalState(options.nodeId);
      note('settings, builds and logs removed');
    });
    report.outcome = 'green';
  } catch (error) {
    report.notes.push(`Stopped: ${error instanceof Error ? error.message : String(error)}`);
  }
  report.finished_at = new Date().toISOString();
  const written = await writeOperatorReport(reportsDir(), report);
  out.write(
    `${report.outcome === 'green' ? '✔ local node removed' : '✘ nuke incomplete'} — report: ${written.markdown}\n`,
  );
  return report.outcome === 'green' ? 0 : 1;
}
