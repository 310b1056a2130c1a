import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { DescribeTableCommand, DynamoDBClient, ResourceNotFoundException } from '@aws-sdk/client-dynamodb';
import { describeStack } from '../../aws/status-stack.ts';
import { readLocalState } from '../../local/local-state.ts';
import type { LocalState } from '../../local/local-state.ts';
import { isAlive, stopProcess } from '../../local/processes.ts';
import type { ResumePlan, UpContext } from './up-context.ts';

async function portFree(port: number): Promise<boolean> {
  try {
    await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(500) });
    return false;
  } catch (error) {
    return (error as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED';
  }
}

function requireNode(): void {
  const [major] = process.versions.node.split('.').map(Number);
  if ((major ?? 0) < 22)
    throw new Error(
      `Node ${process.versions.node} is too old; AgentOS needs Node 22 or newer (24 recommended)`,
    );
}

/** Takes the node's start-up lock, or throws naming the live `up` that holds it. */
async function takeLock(context: UpContext): Promise<void> {
  const { paths, options } = context;
  await mkdir(paths.dir, { recursive: true });
  try {
    await writeFile(paths.lock, String(process.pid), { flag: 'wx' });
    return;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const holder = Number(
    await readFile(paths.lock, 'utf8').catch((error: unknown) => {
      // The holder finished and removed its lock in between: nobody holds it now.
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return '0';
      throw error;
    }),
  );
  if (isAlive(holder))
    throw new Error(`another \`agentos up --local\` (pid ${holder}) is starting node "${options.nodeId}"`);
  await writeFile(paths.lock, String(process.pid));
}

/**
 * Whether the previous emulator still holds the node: `kept` when it answers with the node's table
 * and stack, `lost` (and why) when it is gone or answers without them (it restarted empty), or the
 * state was written before local mode deployed a stack. An emulator that is alive but does not
 * answer is neither: it may be busy or paused, and stopping it would destroy the very data a resume
 * keeps, so that is an error for the operator to resolve.
 */
async function previousData(
  state: LocalState,
  region: string,
): Promise<{ kept: true } | { kept: false; why: string }> {
  if (state.emulator.managed && !isAlive(state.emulator.pid)) return { kept: false, why: 'is gone' };
  const limits = {
    region,
    endpoint: state.emulator.endpoint,
    maxAttempts: 3,
    requestHandler: { connectionTimeout: 2_000, requestTimeout: 5_000, throwOnRequestTimeout: true },
  } as const;
  const db = new DynamoDBClient(limits);
  const cloudFormation = new CloudFormationClient(limits);
  try {
    await db.send(new DescribeTableCommand({ TableName: state.resources.table }));
    if (state.stack === undefined)
      return { kept: false, why: 'holds a node built by an older agentos, without a stack' };
    const stack = await describeStack(cloudFormation, state.stack.name);
    return stack.deployed ? { kept: true } : { kept: false, why: `lost the stack ${state.stack.name}` };
  } catch (error) {
    if (error instanceof ResourceNotFoundException) return { kept: false, why: 'had lost its data' };
    throw new Error(
      `the emulator of node "${state.node_id}" at ${state.emulator.endpoint} does not answer ` +
        `(${error instanceof Error ? error.message : String(error)}); start it again or, to start afresh ` +
        'without its data, run `agentos nuke --local --yes`',
      { cause: error },
    );
  } finally {
    db.destroy();
    cloudFormation.destroy();
  }
}

/**
 * Checks that the node can start: Node version, no live node with this id, the start-up lock, free
 * ports. A stopped or crashed node whose emulator still holds its data is resumed rather than
 * rebuilt (HLD §8.1): the plan says so, and boot and seed keep the data.
 */
export async function preflight(
  context: UpContext,
  note: (detail: string) => void,
): Promise<ResumePlan | undefined> {
  const { options, defaults } = context;
  requireNode();
  const existing = await readLocalState(options.nodeId);
  if (existing !== undefined && isAlive(existing.node.pid)) {
    throw new Error(
      `local node "${options.nodeId}" is already running (orchestrator ${existing.node.orchestrator_url}); ` +
        'see `agentos status --local` or stop it with `agentos nuke --local`',
    );
  }
  await takeLock(context);
  context.ownsLock = true;
  let resume: ResumePlan | undefined;
  if (existing !== undefined) {
    const previous = await previousData(existing, defaults.region);
    if (previous.kept) {
      resume = { state: existing };
    } else if (existing.emulator.managed && isAlive(existing.emulator.pid)) {
      // It answered without the node: it restarted empty (or is an older kind), so it must not hold the port.
      await stopProcess(existing.emulator.pid);
      context.report.notes.push(
        `The previous emulator of node "${options.nodeId}" ${previous.why}; the node was built afresh.`,
      );
    }
  }
  const reusedEmulator = resume?.state.emulator.managed === true;
  const busy: number[] = [];
  for (const port of [
    defaults.orchestratorPort,
    defaults.modelPolicyPort,
    ...(defaults.externalEmulator || reusedEmulator ? [] : [defaults.emulatorPort]),
  ]) {
    if (!(await portFree(port))) busy.push(port);
  }
  if (busy.length > 0) throw new Error(`ports ${busy.join(', ')} are in use; pick another --port-base`);
  const emulator = resume
    ? `${resume.state.emulator.endpoint} (kept, with the node's data)`
    : defaults.externalEmulator
      ? defaults.emulatorEndpoint
      : 'moto (managed)';
  note(
    `node ${process.versions.node}, emulator ${emulator}${resume ? `; resuming stopped node "${options.nodeId}"` : ''}`,
  );
  return resume;
}
