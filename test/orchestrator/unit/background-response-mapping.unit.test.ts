import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  responseEventFrame,
  responseEventMapper,
  runToResponse,
} from '../../../functions/orchestrator/api/background-response-mapping.ts';
import { responseIdOf, runIdOf } from '../../../functions/orchestrator/schemas/background-response.ts';
import type { RunEvent } from '../../../functions/orchestrator/schemas/event.ts';
import type { Run } from '../../../functions/orchestrator/schemas/run.ts';

const examples = new URL('../../../schemas/examples/orchestrator/', import.meta.url);
const run = JSON.parse(readFileSync(new URL('getRun.response-200.json', examples), 'utf8')) as Run;
const events = JSON.parse(
  readFileSync(new URL('listRunEvents.response-200.stream.json', examples), 'utf8'),
) as RunEvent[];
const eventsPath = `/v1/runs/${run.run_id}/events`;

const ended = (type: 'run.failed' | 'run.canceled', data: Record<string, unknown>): RunEvent[] => [
  ...events.filter((event) => !event.type.startsWith('run.completed')),
  { ...events.at(-1)!, type, data } as RunEvent,
];

describe('background responses from runs', () => {
  it('returns the same response id for a run both ways, and none for a malformed id', () => {
    expect(runIdOf(responseIdOf(run.run_id))).toBe(run.run_id);
    expect(runIdOf('resp_short')).toBeUndefined();
    expect(runIdOf('run_01kazqz4e0q12wk6tnpb75nf39')).toBeUndefined();
  });

  it('returns a completed run as a completed response with its answer and usage', () => {
    const response = runToResponse(run, eventsPath);
    expect(response).toMatchObject({ status: 'completed', model: run.agent_id, background: true });
    expect(response.output[0]?.content[0]?.text).toBe(run.output?.message.content);
    expect(response.usage.total_tokens).toBe(run.usage.prompt_tokens + run.usage.completion_tokens);
  });

  it('returns the same typed events, numbered from 0, each time the log is mapped', () => {
    const once = events.flatMap(responseEventMapper(run, eventsPath));
    const again = events.flatMap(responseEventMapper(run, eventsPath));
    expect(again).toEqual(once);
    expect(once.map((event) => event.sequence_number)).toEqual(once.map((_, index) => index));
    expect(once.at(-1)?.type).toBe('response.completed');
    expect(responseEventFrame(once[0]!)).toMatch(/^event: response\.created\ndata: \{.*\}\n\n$/);
  });

  it('ends a failed run with response.failed and a cancelled one with response.cancelled', () => {
    const failed = ended('run.failed', {
      status: 'failed',
      error: { code: 'model_error', message: 'no model' },
    });
    const failedEvents = failed.flatMap(responseEventMapper(run, eventsPath));
    expect(failedEvents.at(-1)).toMatchObject({
      type: 'response.failed',
      response: { status: 'failed', error: { code: 'model_error' } },
    });
    const canceled = ended('run.canceled', { status: 'canceled' }).flatMap(
      responseEventMapper(run, eventsPath),
    );
    expect(canceled.at(-1)).toMatchObject({ type: 'response.cancelled', response: { status: 'cancelled' } });
    expect(canceled.some((event) => event.type === 'response.output_text.delta')).toBe(false);
  });
});
