import { optionalEnv } from '../../functions/shared/config/env.ts';
import { deprovisionNode } from '../../infra/local/provision-emulator.ts';
import { readLocalState, removeLocalState } from '../local/local-state.ts';
import { stopProcess } from '../local/processes.ts';
import { reportsDir } from '../local/project-paths.ts';
import { newOperatorReport, writeOperatorReport } from '../reports/operator-report.ts';
import { PhaseRunner } from '../reports/phase-runner.ts';
import { confirm } from './confirm.ts';

/**
 * `agentos nuke --local`: stops what `up --local` started, deletes the node's resources and local
 * state (keys included), and writes a report. Asks first unless `yes`.
 */
export async function nukeLocal(options: {
  nodeId: string;
  yes: boolean;
  out?: NodeJS.WritableStream;
}): Promise<number> {
  const out = options.out ?? process.stdout;
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
      note(state === undefined ? 'no node state found' : `node process ${await stopProcess(state.node.pid)}`);
    });
    await runner.run('remove resources', async (note) => {
      if (state === undefined) return note('nothing recorded');
      if (state.emulator.managed) {
        note(`emulator ${await stopProcess(state.emulator.pid)} (its data goes with it)`);
      } else {
        await deprovisionNode(options.nodeId, {
          region: optionalEnv('AWS_REGION', 'us-east-1'),
          endpoint: state.emulator.endpoint,
          maxAttempts: 2,
        });
        note(`deleted table, queues and state machine at ${state.emulator.endpoint}`);
      }
    });
    await runner.run('remove local state', async (note) => {
      await removeLocalState(options.nodeId);
      note('keys, settings and logs removed');
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
