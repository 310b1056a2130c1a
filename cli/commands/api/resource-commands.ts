import { readFile } from 'node:fs/promises';
import { InvalidArgumentError } from 'commander';
import { terminalEventTypes } from '../../../functions/orchestrator/schemas/event.ts';
import type { AgentOsClient } from '../../client/agentos-client.ts';
import { emit, emitList, expectStatus, query, segment, showResource, table } from './resource-output.ts';
import type { CommandOutput, PageOptions } from './resource-output.ts';

/**
 * `agentos agents|tools|runs …`: thin commands over the Orchestrator API (functions/orchestrator/README.md
 * lists the routes). Each prints a table or the fields of one item, or the API's JSON with `--json`.
 */

/** Paging options of the list commands. */
export type { PageOptions } from './resource-output.ts';

/** A JSON object from `--file` (a path, or `-` for standard input) or, without it, standard input. */
export async function readSpec(
  file: string | undefined,
  stdin: NodeJS.ReadStream = process.stdin,
): Promise<Record<string, unknown>> {
  let text: string;
  if (file === undefined || file === '-') {
    if (stdin.isTTY === true)
      throw new InvalidArgumentError('give the spec with --file spec.json, or pipe it on standard input');
    const chunks: Buffer[] = [];
    for await (const chunk of stdin)
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
    text = Buffer.concat(chunks).toString('utf8');
  } else {
    text = await readFile(file, 'utf8');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InvalidArgumentError(`the spec is not JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new InvalidArgumentError('the spec must be a JSON object');
  return parsed as Record<string, unknown>;
}

const agentFields = [
  'agent_id',
  'version',
  'name',
  'description',
  'model_ref',
  'run_mode',
  'tool_ids',
  'max_steps',
  'step_timeout_seconds',
  'tool_timeout_ms',
  'on_model_error',
  'on_tool_error',
  'memory_namespace',
];

/** `first` in that order, then every other field of `value`, then `last` (multi-line text). */
function fieldOrder(value: Record<string, unknown>, first: string[], last: string[]): string[] {
  const placed = new Set([...first, ...last, 'object']);
  return [...first, ...Object.keys(value).filter((key) => !placed.has(key)), ...last];
}

const toolFields = ['tool_id', 'kind', 'version', 'description'];

/** Creates an agent or tool from its spec (`POST /v1/agents|tools`) and says which version it got. */
async function createResource(
  client: AgentOsClient,
  kind: 'agent' | 'tool',
  spec: Record<string, unknown>,
  output: CommandOutput,
): Promise<number> {
  const created = expectStatus<Record<string, unknown>>(
    await client.request('POST', `/v1/${kind}s`, { body: spec }),
    201,
  );
  emit(
    output,
    created,
    () => `created ${kind} ${String(created[`${kind}_id`])} (version ${String(created['version'])})\n`,
  );
  return 0;
}

/** Deletes an agent or tool (`DELETE /v1/agents|tools/{id}`). */
async function deleteResource(
  client: AgentOsClient,
  kind: 'agent' | 'tool',
  id: string,
  output: CommandOutput,
): Promise<number> {
  expectStatus(await client.request('DELETE', `/v1/${kind}s/${segment(id)}`), 204);
  emit(output, { object: kind, [`${kind}_id`]: id, deleted: true }, () => `deleted ${kind} ${id}\n`);
  return 0;
}

/** `agentos agents list|get|create|delete`. */
export const agentCommands = {
  async list(client: AgentOsClient, page: PageOptions, output: CommandOutput): Promise<number> {
    return emitList(
      client,
      '/v1/agents',
      {},
      page,
      [
        { title: 'AGENT_ID', value: (a: Record<string, unknown>) => a['agent_id'] },
        { title: 'VERSION', value: (a: Record<string, unknown>) => a['version'] },
        { title: 'NAME', value: (a: Record<string, unknown>) => a['name'], max: 40 },
        { title: 'MODEL', value: (a: Record<string, unknown>) => a['model_ref'] },
        { title: 'MODE', value: (a: Record<string, unknown>) => a['run_mode'] },
        { title: 'UPDATED', value: (a: Record<string, unknown>) => a['updated_at'] },
      ],
      output,
    );
  },

  async get(client: AgentOsClient, agentId: string, version: number | undefined, output: CommandOutput) {
    const path =
      version === undefined
        ? `/v1/agents/${segment(agentId)}`
        : `/v1/agents/${segment(agentId)}/versions/${version}`;
    return showResource(client, path, output, (agent) => fieldOrder(agent, agentFields, ['instructions']));
  },

  create: (client: AgentOsClient, spec: Record<string, unknown>, output: CommandOutput) =>
    createResource(client, 'agent', spec, output),

  delete: (client: AgentOsClient, agentId: string, output: CommandOutput) =>
    deleteResource(client, 'agent', agentId, output),
};

/** `agentos tools list|get|create|delete`. */
export const toolCommands = {
  async list(client: AgentOsClient, page: PageOptions, output: CommandOutput): Promise<number> {
    return emitList(
      client,
      '/v1/tools',
      {},
      page,
      [
        { title: 'TOOL_ID', value: (t: Record<string, unknown>) => t['tool_id'] },
        { title: 'KIND', value: (t: Record<string, unknown>) => t['kind'] },
        { title: 'VERSION', value: (t: Record<string, unknown>) => t['version'] },
        {
          title: 'TARGET',
          value: (t: Record<string, unknown>) => {
            const http = t['http'] as { method?: string; url?: string } | undefined;
            return http === undefined ? '-' : `${http.method ?? ''} ${http.url ?? ''}`;
          },
          max: 50,
        },
        { title: 'DESCRIPTION', value: (t: Record<string, unknown>) => t['description'], max: 60 },
      ],
      output,
    );
  },

  get: (client: AgentOsClient, toolId: string, output: CommandOutput) =>
    showResource(client, `/v1/tools/${segment(toolId)}`, output, (tool) => fieldOrder(tool, toolFields, [])),

  create: (client: AgentOsClient, spec: Record<string, unknown>, output: CommandOutput) =>
    createResource(client, 'tool', spec, output),

  delete: (client: AgentOsClient, toolId: string, output: CommandOutput) =>
    deleteResource(client, 'tool', toolId, output),
};

function clipped(text: string, width: number): string {
  const line = text.replace(/\s+/g, ' ');
  return line.length <= width ? line : `${line.slice(0, width - 1)}…`;
}

function summary(data: unknown): string {
  return data === undefined ? '' : JSON.stringify(data);
}

type ToolCallSummary = {
  name?: unknown;
  attempts?: { is_error?: unknown; error?: { code?: unknown } }[];
};

/** `name×attempts`, and the tool error code when the last attempt failed (`weather×2!timeout`). */
function toolCallCell(call: ToolCallSummary): string {
  const attempts = call.attempts ?? [];
  const last = attempts.at(-1);
  const failed = last?.is_error === true ? `!${String(last.error?.code ?? 'error')}` : '';
  return `${String(call.name)}×${attempts.length}${failed}`;
}

/** `agentos runs list|get|events|steps`. */
export const runCommands = {
  async list(
    client: AgentOsClient,
    status: string | undefined,
    page: PageOptions,
    output: CommandOutput,
  ): Promise<number> {
    return emitList(
      client,
      '/v1/runs',
      { status },
      page,
      [
        { title: 'RUN_ID', value: (r: Record<string, unknown>) => r['run_id'] },
        { title: 'STATUS', value: (r: Record<string, unknown>) => r['status'] },
        { title: 'AGENT', value: (r: Record<string, unknown>) => r['agent_id'] },
        { title: 'STEPS', value: (r: Record<string, unknown>) => r['steps_completed'] },
        { title: 'CREATED', value: (r: Record<string, unknown>) => r['created_at'] },
      ],
      output,
    );
  },

  get: (client: AgentOsClient, runId: string, output: CommandOutput) =>
    showResource(client, `/v1/runs/${segment(runId)}`, output),

  /** Every event after `after`, page by page (the JSON form of the events route, not the stream). */
  async events(client: AgentOsClient, runId: string, after: number, output: CommandOutput): Promise<number> {
    const events: Record<string, unknown>[] = [];
    for (let cursor = after; ;) {
      const page = expectStatus<{ data: Record<string, unknown>[]; has_more: boolean; next_after: number }>(
        await client.request(
          'GET',
          `/v1/runs/${segment(runId)}/events${query({ after: cursor, limit: 1000 })}`,
        ),
        200,
      );
      events.push(...page.data);
      if (!page.has_more || page.next_after <= cursor) break;
      cursor = page.next_after;
    }
    emit(output, { object: 'list', data: events }, () =>
      table(
        [
          { title: 'SEQ', value: (e: Record<string, unknown>) => e['sequence'] },
          { title: 'TIME', value: (e: Record<string, unknown>) => e['time'] },
          { title: 'TYPE', value: (e: Record<string, unknown>) => e['type'] },
          { title: 'DATA', value: (e: Record<string, unknown>) => summary(e['data']), max: 100 },
        ],
        events,
      ),
    );
    return 0;
  },

  /**
   * Prints events as they come until the run's terminal event: a line each (`--json`: the event as
   * one line of JSON), reading the events route's JSON pages every half second.
   */
  async follow(client: AgentOsClient, runId: string, after: number, output: CommandOutput): Promise<number> {
    if (!output.json) output.out.write(`${'SEQ'.padEnd(5)} ${'TIME'.padEnd(24)} ${'TYPE'.padEnd(16)} DATA\n`);
    for (let cursor = after; ;) {
      const page = expectStatus<{ data: Record<string, unknown>[]; has_more: boolean; next_after: number }>(
        await client.request(
          'GET',
          `/v1/runs/${segment(runId)}/events${query({ after: cursor, limit: 1000 })}`,
        ),
        200,
      );
      for (const event of page.data) {
        output.out.write(
          output.json
            ? `${JSON.stringify(event)}\n`
            : `${String(event['sequence']).padEnd(5)} ${String(event['time']).padEnd(24)} ${String(event['type']).padEnd(16)} ${clipped(summary(event['data']), 100)}\n`,
        );
        if (terminalEventTypes.has(String(event['type']))) return 0;
      }
      if (page.next_after > cursor) cursor = page.next_after;
      if (page.has_more) continue;
      // Nothing new: a run that already ended (its terminal event at or before --after) stops here.
      if (page.data.length === 0) {
        const run = expectStatus<{ status?: unknown }>(
          await client.request('GET', `/v1/runs/${segment(runId)}`),
          200,
        );
        if (['completed', 'failed', 'canceled'].includes(String(run.status))) return 0;
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  },

  async steps(
    client: AgentOsClient,
    runId: string,
    page: PageOptions,
    output: CommandOutput,
  ): Promise<number> {
    return emitList(
      client,
      `/v1/runs/${segment(runId)}/steps`,
      {},
      page,
      [
        { title: 'STEP', value: (s: Record<string, unknown>) => s['step'] },
        { title: 'STATUS', value: (s: Record<string, unknown>) => s['status'] },
        { title: 'DURATION_MS', value: (s: Record<string, unknown>) => s['duration_ms'] },
        {
          title: 'MODEL',
          value: (s: Record<string, unknown>) =>
            (s['model'] as { model_ref?: unknown } | undefined)?.model_ref,
        },
        {
          title: 'TOOLS',
          value: (s: Record<string, unknown>) =>
            ((s['tool_calls'] as ToolCallSummary[] | undefined) ?? []).map(toolCallCell).join(' ') || '-',
          max: 80,
        },
        {
          title: 'ERROR',
          value: (s: Record<string, unknown>) => (s['error'] as { code?: unknown } | null | undefined)?.code,
        },
      ],
      output,
    );
  },
};
