import { describe, expect, it } from 'vitest';
import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';
import type { ChatMessage } from '../../functions/shared/contracts/chat.ts';
import {
  maxCommitBytes,
  maxRunIndexEntriesPerList,
  maxRunRecordBytes,
  maxStepTranscriptBytes,
  messageBytes,
  RunMovedOnError,
  RunStateConflictError,
  RunTooLargeError,
} from '../../functions/orchestrator/ports/run-state-port.ts';
import type { RunRecord, RunStatePort } from '../../functions/orchestrator/ports/run-state-port.ts';
import type { RateLimiterPort } from '../../functions/shared/limits/limiter-port.ts';
import { newRunId } from '../../functions/orchestrator/runtime/run-id.ts';
import { newEvent } from '../../functions/orchestrator/schemas/event.ts';
import type { RunStatus } from '../../functions/orchestrator/schemas/run.ts';
import type { StepRecord } from '../../functions/orchestrator/schemas/step.ts';

function authFor(tenant: string): AuthContext {
  return {
    tenant_id: tenant,
    principal: { id: `user-${tenant}`, type: 'user' },
    scopes: [],
    policy_context: {},
  };
}

/** A freshly queued run of `tenant`, as the run service creates it. */
export function runRecord(tenant: string): RunRecord {
  const at = new Date().toISOString();
  return {
    run_id: newRunId(),
    tenant_id: tenant,
    agent_id: 'agent',
    agent_version: 1,
    mode: 'standard',
    execution_arn: null,
    principal_id: `user-${tenant}`,
    auth: { ...authFor(tenant), scopes: ['runs:write'], policy_context: { team: 'blue' } },
    status: 'queued',
    input: { messages: [{ role: 'user', content: 'hi' }] },
    output: null,
    error: null,
    metadata: {},
    transcript_messages: 0,
    transcript_bytes: 0,
    steps_completed: 0,
    last_sequence: 0,
    usage: { prompt_tokens: 0, completion_tokens: 0, cost_usd: 0 },
    created_at: at,
    updated_at: at,
    started_at: null,
    ended_at: null,
    scheduled_at: null,
  };
}

/** A completed step record of `runId`, as the step engine stores it. */
export function stepRecordOf(runId: string, step: number, note = 'ok'): StepRecord {
  return {
    object: 'step',
    run_id: runId,
    step,
    status: 'completed',
    started_at: '2026-01-01T00:00:00.000Z',
    ended_at: '2026-01-01T00:00:01.000Z',
    duration_ms: 1000,
    deliveries: 1,
    model: {
      request_id: `${runId}/step-${step}`,
      model_ref: 'local/scripted',
      message_count: 2,
      request_bytes: 100,
      finish_reason: 'tool_calls',
      usage: { prompt_tokens: 10, completion_tokens: 5, cost_usd: 0 },
      provider: 'local',
      model: 'scripted',
      duration_ms: 3,
    },
    tool_calls: [
      {
        tool_call_id: `call_${step}`,
        name: 'echo',
        arguments: JSON.stringify({ text: note }),
        idempotency_key: `${runId}/s${step}/c0`,
        attempts: [
          {
            attempt: 1,
            started_at: '2026-01-01T00:00:00.500Z',
            duration_ms: 1,
            is_error: false,
            output: note,
          },
        ],
      },
    ],
    error: null,
  };
}

/** One step's messages: the assistant's tool call and its result of `size` characters. */
export function stepMessages(step: number, size: number, fill = 'x'): ChatMessage[] {
  return [
    {
      role: 'assistant',
      content: null,
      tool_calls: [{ id: `call_${step}`, type: 'function', function: { name: 'echo', arguments: '{}' } }],
    },
    { role: 'tool', tool_call_id: `call_${step}`, content: fill.repeat(size) },
  ];
}

const queued = (runId: string) =>
  newEvent(`${runId}:run.queued`, 'run.queued', { agent_id: 'agent', status: 'queued' });
const claim = (scope: string, request: string) => ({
  scopeHash: scope,
  requestHash: request,
  expiresAt: Math.floor(Date.now() / 1000) + 86_400,
});

/**
 * The behaviour every RunStatePort adapter must have. Each case uses fresh tenants, so adapters may
 * share state across cases.
 */
/**
 * `limiters`: rate limiters, by name, whose buckets a run's creation may take from (each adapter
 * gives its own kind, taken in its creating write, and another kind, taken before it).
 */
export function runStatePortConformance(
  name: string,
  factory: () => Promise<RunStatePort>,
  limiters: Record<string, () => Promise<RateLimiterPort>> = {},
): void {
  describe(`RunStatePort conformance: ${name}`, () => {
    const tenant = () => `t${crypto.randomUUID().slice(0, 8)}`;

    it('returns a created run, and undefined for unknown runs', async () => {
      const port = await factory();
      const t = tenant();
      const run = runRecord(t);
      const created = await port.createRun(authFor(t), run, [queued(run.run_id)]);
      expect(created.outcome).toBe('created');
      const stored = await port.getRun(authFor(t), run.run_id);
      expect(stored).toEqual({ ...run, last_sequence: 1 });
      expect(await port.readTranscript(authFor(t), run.run_id)).toEqual([]);
      expect(await port.getRun(authFor(t), newRunId())).toBeUndefined();
    });

    it("returns a run's status alone, and undefined for an unknown run or another tenant's", async () => {
      const port = await factory();
      if (port.getRunStatus === undefined) return;
      const t = tenant();
      const run = runRecord(t);
      await port.createRun(authFor(t), run, [queued(run.run_id)]);
      expect(await port.getRunStatus(authFor(t), run.run_id)).toBe('queued');
      await port.commit(authFor(t), run.run_id, {
        requireStatus: ['queued'],
        status: 'canceled',
        events: [],
      });
      expect(await port.getRunStatus(authFor(t), run.run_id)).toBe('canceled');
      expect(await port.getRunStatus(authFor(tenant()), run.run_id)).toBeUndefined();
      expect(await port.getRunStatus(authFor(t), newRunId())).toBeUndefined();
    });

    it('never shows a run or its events to another tenant', async () => {
      const port = await factory();
      const owner = tenant();
      const other = tenant();
      const run = runRecord(owner);
      await port.createRun(authFor(owner), run, [queued(run.run_id)]);
      expect(await port.getRun(authFor(other), run.run_id)).toBeUndefined();
      expect(await port.listEvents(authFor(other), run.run_id, { after: 0, limit: 10 })).toEqual([]);
      await expect(
        port.commit(authFor(other), run.run_id, { requireStatus: ['queued'], events: [] }),
      ).rejects.toBeInstanceOf(Error);
    });

    it('replays the run of an idempotency claim with the same request, and refuses a different request', async () => {
      const port = await factory();
      const t = tenant();
      const first = runRecord(t);
      const second = runRecord(t);
      expect(
        (await port.createRun(authFor(t), first, [queued(first.run_id)], claim('scope-a', 'body-1'))).outcome,
      ).toBe('created');
      const replay = await port.createRun(
        authFor(t),
        second,
        [queued(second.run_id)],
        claim('scope-a', 'body-1'),
      );
      expect(replay).toMatchObject({ outcome: 'replayed', run: { run_id: first.run_id } });
      expect(await port.getRun(authFor(t), second.run_id)).toBeUndefined();
      const reused = await port.createRun(authFor(t), runRecord(t), [], claim('scope-a', 'body-2'));
      expect(reused.outcome).toBe('key_reused');
    });

    it('creates one run for concurrent creations with one claim', async () => {
      const port = await factory();
      const t = tenant();
      const results = await Promise.all(
        Array.from({ length: 20 }, () => {
          const run = runRecord(t);
          return port.createRun(authFor(t), run, [queued(run.run_id)], claim('scope-c', 'same'));
        }),
      );
      expect(results.filter((r) => r.outcome === 'created')).toHaveLength(1);
      const ids = new Set(results.map((r) => ('run' in r ? r.run.run_id : r.outcome)));
      expect(ids.size).toBe(1);
    });

    it('assigns gapless sequences to concurrent appends and keeps each event once', async () => {
      const port = await factory();
      const t = tenant();
      const run = runRecord(t);
      await port.createRun(authFor(t), run, [queued(run.run_id)]);
      await Promise.all(
        Array.from({ length: 15 }, (_, i) =>
          port.commit(authFor(t), run.run_id, {
            requireStatus: ['queued'],
            events: [newEvent(`${run.run_id}:s${i}:step.started`, 'step.started', { step: i + 1 })],
          }),
        ),
      );
      const events = await port.listEvents(authFor(t), run.run_id, { after: 0, limit: 100 });
      expect(events.map((e) => e.sequence)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1));
      expect(new Set(events.map((e) => e.event_id)).size).toBe(16);
    });

    it('returns the stored event instead of appending a duplicate event id', async () => {
      const port = await factory();
      const t = tenant();
      const run = runRecord(t);
      await port.createRun(authFor(t), run, [queued(run.run_id)]);
      const id = `${run.run_id}:s1:tool.completed`;
      const first = await port.commit(authFor(t), run.run_id, {
        requireStatus: ['queued'],
        events: [
          newEvent(id, 'tool.completed', {
            step: 1,
            tool_call_id: 'c',
            name: 'echo',
            output: 'first',
            is_error: false,
          }),
        ],
      });
      const again = await port.commit(authFor(t), run.run_id, {
        requireStatus: ['queued'],
        changes: { steps_completed: 5 },
        events: [
          newEvent(id, 'tool.completed', {
            step: 1,
            tool_call_id: 'c',
            name: 'echo',
            output: 'second',
            is_error: false,
          }),
        ],
      });
      expect(first.appended).toBe(1);
      expect(again.appended).toBe(0);
      expect(again.events[0]).toMatchObject({ event_id: id, sequence: 2, data: { output: 'first' } });
      expect(again.run.steps_completed).toBe(0);
      expect(
        (await port.listEvents(authFor(t), run.run_id, { after: 0, limit: 10 })).map((e) => e.sequence),
      ).toEqual([1, 2]);
    });

    it('applies a transition only from the required states, and throws the actual state otherwise', async () => {
      const port = await factory();
      const t = tenant();
      const run = runRecord(t);
      await port.createRun(authFor(t), run, [queued(run.run_id)]);
      const canceled = await port.commit(authFor(t), run.run_id, {
        requireStatus: ['queued', 'running'],
        status: 'canceled',
        events: [newEvent(`${run.run_id}:run.terminal`, 'run.canceled', { status: 'canceled' })],
      });
      expect(canceled.run.status).toBe('canceled');
      const attempt = port.commit(authFor(t), run.run_id, {
        requireStatus: ['running'],
        events: [newEvent(`${run.run_id}:s1:step.started`, 'step.started', { step: 1 })],
      });
      await expect(attempt).rejects.toBeInstanceOf(RunStateConflictError);
      await expect(attempt).rejects.toMatchObject({ actual: 'canceled' });
      expect((await port.getRun(authFor(t), run.run_id))?.last_sequence).toBe(2);
    });

    it('returns every changed field of the record after a commit', async () => {
      const port = await factory();
      const t = tenant();
      const run = runRecord(t);
      await port.createRun(authFor(t), run, [queued(run.run_id)]);
      const changes = {
        scheduled_at: '2026-01-01T00:00:00.000Z',
        started_at: '2026-01-01T00:00:01.000Z',
        steps_completed: 1,
        usage: { prompt_tokens: 3, completion_tokens: 1, cost_usd: 0.5 },
      };
      const result = await port.commit(authFor(t), run.run_id, {
        requireStatus: ['queued'],
        changes,
        events: [],
      });
      expect(result.run).toMatchObject(changes);
      expect(await port.getRun(authFor(t), run.run_id)).toEqual(result.run);
    });

    it('applies a commit only at the required last sequence, and throws the actual one otherwise', async () => {
      const port = await factory();
      const t = tenant();
      const run = runRecord(t);
      await port.createRun(authFor(t), run, [queued(run.run_id)]);
      const moved = port.commit(authFor(t), run.run_id, {
        requireStatus: ['queued'],
        requireLastSequence: 0,
        changes: { replicated_sequence: 5 },
        events: [newEvent(`${run.run_id}:s1:step.started`, 'step.started', { step: 1 })],
      });
      await expect(moved).rejects.toBeInstanceOf(RunMovedOnError);
      await expect(moved).rejects.toMatchObject({ actual: 1 });
      const applied = await port.commit(authFor(t), run.run_id, {
        requireStatus: ['queued'],
        requireLastSequence: 1,
        changes: { replicated_sequence: 1 },
        events: [newEvent(`${run.run_id}:s1:step.started`, 'step.started', { step: 1 })],
      });
      expect(applied.run).toMatchObject({ last_sequence: 2, replicated_sequence: 1 });
    });

    it('keeps the time and node of an event that carries them, and stores a run’s federation link', async () => {
      const port = await factory();
      const t = tenant();
      const federation = {
        origin_node_id: 'east-1',
        node_id: 'west-1',
        remote_run_id: null,
        remote_events_url: null,
      };
      const run = { ...runRecord(t), federation, replicated_sequence: 0 };
      await port.createRun(authFor(t), run, []);
      const time = '2026-01-01T00:00:00.000Z';
      await port.commit(authFor(t), run.run_id, {
        requireStatus: ['queued'],
        events: [{ ...queued(run.run_id), time, node_id: 'west-1' }],
      });
      const [event] = await port.listEvents(authFor(t), run.run_id, { after: 0, limit: 10 });
      expect(event).toMatchObject({ sequence: 1, time, node_id: 'west-1' });
      expect(await port.getRun(authFor(t), run.run_id)).toMatchObject({ federation, replicated_sequence: 0 });
    });

    it('holds a claim until the second it expires, then lets the key start a new run', async () => {
      const port = await factory();
      const t = tenant();
      const first = runRecord(t);
      const expiresAt = Math.floor(Date.parse(first.created_at) / 1000) + 100;
      const claimUntil = (request: string) => ({ scopeHash: 'scope-x', requestHash: request, expiresAt });
      // Whether a claim still holds is judged as of the new run's creation time.
      const createdAt = (epochSeconds: number) => {
        const run = runRecord(t);
        return { ...run, created_at: new Date(epochSeconds * 1000).toISOString() };
      };
      await port.createRun(authFor(t), first, [queued(first.run_id)], claimUntil('body-1'));
      const atExpiry = createdAt(expiresAt);
      expect(
        (await port.createRun(authFor(t), atExpiry, [queued(atExpiry.run_id)], claimUntil('body-2'))).outcome,
      ).toBe('key_reused');
      const afterExpiry = createdAt(expiresAt + 1);
      const created = await port.createRun(
        authFor(t),
        afterExpiry,
        [queued(afterExpiry.run_id)],
        claimUntil('body-2'),
      );
      expect(created).toMatchObject({ outcome: 'created', run: { run_id: afterExpiry.run_id } });
      const replay = await port.createRun(authFor(t), runRecord(t), [], claimUntil('body-2'));
      expect(replay).toMatchObject({ outcome: 'replayed', run: { run_id: afterExpiry.run_id } });
      expect(await port.getRun(authFor(t), first.run_id)).toMatchObject({ run_id: first.run_id });
    });

    it('refuses a run whose own fields outgrow the record limit, and stores nothing', async () => {
      const port = await factory();
      const t = tenant();
      const oversized = {
        ...runRecord(t),
        metadata: { note: 'x' },
        input: { messages: [{ role: 'user' as const, content: 'x'.repeat(maxRunRecordBytes) }] },
      };
      const creation = port.createRun(authFor(t), oversized, [queued(oversized.run_id)]);
      await expect(creation).rejects.toBeInstanceOf(RunTooLargeError);
      await expect(creation).rejects.toMatchObject({ limit: maxRunRecordBytes });
      expect(await port.getRun(authFor(t), oversized.run_id)).toBeUndefined();
    });

    it('refuses a commit past maxTranscriptBytes to the byte, and keeps the run as it was', async () => {
      const port = await factory();
      const t = tenant();
      const run = runRecord(t);
      await port.createRun(authFor(t), run, [queued(run.run_id)]);
      const first = stepMessages(1, 1000);
      const firstBytes = first.reduce((sum, m) => sum + messageBytes(m), 0);
      await port.commit(authFor(t), run.run_id, {
        requireStatus: ['queued'],
        events: [],
        appendTranscript: first,
        maxTranscriptBytes: firstBytes,
      });
      const before = await port.getRun(authFor(t), run.run_id);
      expect(before).toMatchObject({ transcript_messages: 2, transcript_bytes: firstBytes });
      const second = stepMessages(2, 10);
      const secondBytes = second.reduce((sum, m) => sum + messageBytes(m), 0);
      const growth = port.commit(authFor(t), run.run_id, {
        requireStatus: ['queued'],
        events: [newEvent(`${run.run_id}:s2:step.started`, 'step.started', { step: 2 })],
        appendTranscript: second,
        step: stepRecordOf(run.run_id, 2),
        maxTranscriptBytes: firstBytes + secondBytes - 1,
      });
      await expect(growth).rejects.toBeInstanceOf(RunTooLargeError);
      await expect(growth).rejects.toMatchObject({
        bytes: firstBytes + secondBytes,
        limit: firstBytes + secondBytes - 1,
      });
      expect(await port.getRun(authFor(t), run.run_id)).toEqual(before);
      expect(await port.readTranscript(authFor(t), run.run_id)).toEqual(first);
      expect(await port.listSteps(authFor(t), run.run_id, { after: 0, limit: 10 })).toEqual([]);
      expect(await port.listEvents(authFor(t), run.run_id, { after: 0, limit: 10 })).toHaveLength(1);
      const fits = await port.commit(authFor(t), run.run_id, {
        requireStatus: ['queued'],
        events: [],
        appendTranscript: second,
        maxTranscriptBytes: firstBytes + secondBytes,
      });
      expect(fits.run).toMatchObject({ transcript_messages: 4, transcript_bytes: firstBytes + secondBytes });
    });

    it('refuses a commit past the size of one transaction, naming the limit, and keeps the run as it was', async () => {
      const port = await factory();
      const t = tenant();
      // Each part within its own limit: 250 KB of input, a transcript just under the per-step limit,
      // a step record and events of about 280 KB each; together past what one transaction holds.
      const run = {
        ...runRecord(t),
        input: { messages: [{ role: 'user' as const, content: 'i'.repeat(250_000) }] },
      };
      await port.createRun(authFor(t), run, [queued(run.run_id)]);
      const big = (n: number) =>
        newEvent(`${run.run_id}:big${n}`, 'step.completed', { step: 1, finish_reason: 'f'.repeat(280_000) });
      const change = (events: number) => ({
        requireStatus: ['queued' as const],
        events: Array.from({ length: events }, (_, n) => big(n)),
        appendTranscript: stepMessages(1, maxStepTranscriptBytes - 20_000),
        step: stepRecordOf(run.run_id, 1, 's'.repeat(140_000)),
      });
      const refused = port.commit(authFor(t), run.run_id, change(3));
      await expect(refused).rejects.toBeInstanceOf(RunTooLargeError);
      await expect(refused).rejects.toMatchObject({
        limit: maxCommitBytes,
        limitName: 'commit size limit',
        message: expect.stringContaining(`commit size limit of ${maxCommitBytes} bytes`),
      });
      expect(await port.getRun(authFor(t), run.run_id)).toMatchObject({
        last_sequence: 1,
        transcript_bytes: 0,
        transcript_messages: 0,
      });
      expect(await port.readTranscript(authFor(t), run.run_id)).toEqual([]);
      expect(await port.listSteps(authFor(t), run.run_id, { after: 0, limit: 10 })).toEqual([]);
      // The same step with one event fits, and is stored whole.
      const fits = await port.commit(authFor(t), run.run_id, change(1));
      expect(fits.run).toMatchObject({ last_sequence: 2, transcript_messages: 2 });
      expect(await port.listSteps(authFor(t), run.run_id, { after: 0, limit: 10 })).toHaveLength(1);
    });

    it('keeps what it stores apart from the objects callers pass in and get back', async () => {
      const port = await factory();
      const t = tenant();
      const run = runRecord(t);
      const events = [queued(run.run_id)];
      const created = await port.createRun(authFor(t), run, events);
      run.input.messages.push({ role: 'user', content: 'changed' });
      run.metadata['changed'] = 'yes';
      events[0]!.data['status'] = 'changed';
      if (created.outcome === 'created') {
        created.run.usage.prompt_tokens = 99;
        created.events[0]!.data['agent_id'] = 'changed';
      }
      const stored = await port.getRun(authFor(t), run.run_id);
      expect(stored).toMatchObject({
        input: { messages: [{ role: 'user', content: 'hi' }] },
        metadata: {},
        usage: { prompt_tokens: 0 },
      });
      stored!.input.messages.length = 0;
      expect((await port.getRun(authFor(t), run.run_id))?.input.messages).toHaveLength(1);
      const appended = stepMessages(1, 3);
      await port.commit(authFor(t), run.run_id, {
        requireStatus: ['queued'],
        events: [],
        appendTranscript: appended,
      });
      appended[1]!.content = 'changed';
      const transcript = await port.readTranscript(authFor(t), run.run_id);
      expect(transcript[1]?.content).toBe('xxx');
      transcript.length = 0;
      expect(await port.readTranscript(authFor(t), run.run_id)).toHaveLength(2);
      const [listed] = await port.listEvents(authFor(t), run.run_id, { after: 0, limit: 10 });
      expect(listed?.data).toEqual({ agent_id: 'agent', status: 'queued' });
      listed!.data['status'] = 'changed';
      const [again] = await port.listEvents(authFor(t), run.run_id, { after: 0, limit: 10 });
      expect(again?.data).toEqual({ agent_id: 'agent', status: 'queued' });
    });

    it('pages events after a sequence', async () => {
      const port = await factory();
      const t = tenant();
      const run = runRecord(t);
      await port.createRun(authFor(t), run, [queued(run.run_id)]);
      await port.commit(authFor(t), run.run_id, {
        requireStatus: ['queued'],
        events: [1, 2, 3].map((step) =>
          newEvent(`${run.run_id}:s${step}:step.started`, 'step.started', { step }),
        ),
      });
      const page = await port.listEvents(authFor(t), run.run_id, { after: 2, limit: 1 });
      expect(page.map((e) => [e.sequence, e.data['step']])).toEqual([[3, 2]]);
    });

    it('returns from a creation and a commit the events exactly as a read returns them', async () => {
      const port = await factory();
      const t = tenant();
      const run = runRecord(t);
      const created = await port.createRun(authFor(t), run, [queued(run.run_id)]);
      const started = (step: number) =>
        newEvent(`${run.run_id}:s${step}:step.started`, 'step.started', { step });
      const first = await port.commit(authFor(t), run.run_id, {
        requireStatus: ['queued'],
        events: [started(1), started(2)],
      });
      // A partly redelivered commit answers the event already stored, as stored, beside the new one.
      const again = await port.commit(authFor(t), run.run_id, {
        requireStatus: ['queued'],
        events: [started(2), started(3)],
      });
      const read = await port.listEvents(authFor(t), run.run_id, { after: 0, limit: 10 });
      expect(read.map((event) => event.sequence)).toEqual([1, 2, 3, 4]);
      expect(created.outcome === 'created' ? created.events : []).toEqual(read.slice(0, 1));
      expect(first.events).toEqual(read.slice(1, 3));
      expect(again.events).toEqual(read.slice(2, 4));
    });

    it('returns stored events by id, in the order asked, leaving out ids not stored', async () => {
      const port = await factory();
      const t = tenant();
      const run = runRecord(t);
      await port.createRun(authFor(t), run, [queued(run.run_id)]);
      const ids = [1, 2].map((step) => `${run.run_id}:s${step}:step.started`);
      await port.commit(authFor(t), run.run_id, {
        requireStatus: ['queued'],
        events: ids.map((id, i) => newEvent(id, 'step.started', { step: i + 1 })),
      });
      const found = await port.getEvents(authFor(t), run.run_id, [
        ids[1]!,
        'nope',
        `${run.run_id}:run.queued`,
      ]);
      expect(found.map((e) => [e.event_id, e.sequence])).toEqual([
        [ids[1], 3],
        [`${run.run_id}:run.queued`, 1],
      ]);
    });

    it('appends a redelivered commit once: its transcript and step record are not stored twice', async () => {
      const port = await factory();
      const t = tenant();
      const run = runRecord(t);
      await port.createRun(authFor(t), run, [queued(run.run_id)]);
      const change = {
        requireStatus: ['queued' as RunStatus],
        changes: { steps_completed: 1 },
        events: [
          newEvent(`${run.run_id}:s1:step.completed`, 'step.completed', {
            step: 1,
            finish_reason: 'tool_calls',
          }),
        ],
        appendTranscript: stepMessages(1, 10),
        step: stepRecordOf(run.run_id, 1),
      };
      const first = await port.commit(authFor(t), run.run_id, change);
      const again = await port.commit(authFor(t), run.run_id, {
        ...change,
        step: stepRecordOf(run.run_id, 1, 'other'),
      });
      expect(first.appended).toBe(1);
      expect(again).toMatchObject({ appended: 0, run: { transcript_messages: 2, last_sequence: 2 } });
      expect(again.events.map((e) => e.sequence)).toEqual([2]);
      expect(await port.readTranscript(authFor(t), run.run_id)).toEqual(stepMessages(1, 10));
      expect(await port.listSteps(authFor(t), run.run_id, { after: 0, limit: 10 })).toEqual([
        stepRecordOf(run.run_id, 1),
      ]);
    });

    it('returns the transcript in order, and with maxBytes the newest whole messages that fit', async () => {
      const port = await factory();
      const t = tenant();
      const run = runRecord(t);
      await port.createRun(authFor(t), run, [queued(run.run_id)]);
      const all: ChatMessage[] = [];
      for (let step = 1; step <= 4; step += 1) {
        const messages = stepMessages(step, 100 * step);
        all.push(...messages);
        await port.commit(authFor(t), run.run_id, {
          requireStatus: ['queued'],
          events: [],
          appendTranscript: messages,
        });
      }
      expect(await port.readTranscript(authFor(t), run.run_id)).toEqual(all);
      const sizes = all.map(messageBytes);
      const lastTwo = sizes.at(-1)! + sizes.at(-2)!;
      expect(await port.readTranscript(authFor(t), run.run_id, { maxBytes: lastTwo })).toEqual(all.slice(-2));
      // One byte short of the assistant call: its tool result alone would be an orphan, so nothing fits.
      expect(await port.readTranscript(authFor(t), run.run_id, { maxBytes: lastTwo - 1 })).toEqual([]);
      // Room for the last result and the one before it, but not that one's call: the orphan is left out.
      const withOrphan = lastTwo + sizes.at(-3)!;
      expect(await port.readTranscript(authFor(t), run.run_id, { maxBytes: withOrphan })).toEqual(
        all.slice(-2),
      );
      expect(await port.readTranscript(authFor(t), run.run_id, { maxBytes: 10 ** 9 })).toEqual(all);
      expect((await port.getRun(authFor(t), run.run_id))?.transcript_bytes).toBe(
        sizes.reduce((a, b) => a + b, 0),
      );
    });

    it('keeps a transcript larger than one 400 KB item, a single message of 500 KB included', async () => {
      const port = await factory();
      const t = tenant();
      const run = runRecord(t);
      await port.createRun(authFor(t), run, [queued(run.run_id)]);
      const all: ChatMessage[] = [];
      for (let step = 1; step <= 3; step += 1) {
        // Multi-byte characters, so a piece cut by bytes must not split one.
        const messages = stepMessages(step, step === 2 ? 250_000 : 150_000, step === 2 ? 'é' : 'y');
        all.push(...messages);
        await port.commit(authFor(t), run.run_id, {
          requireStatus: ['queued'],
          events: [
            newEvent(`${run.run_id}:s${step}:step.completed`, 'step.completed', {
              step,
              finish_reason: 'tool_calls',
            }),
          ],
          appendTranscript: messages,
          maxTranscriptBytes: 2 * 1024 * 1024,
        });
      }
      const stored = await port.getRun(authFor(t), run.run_id);
      expect(stored?.transcript_bytes).toBeGreaterThan(800_000);
      expect(stored?.transcript_messages).toBe(6);
      expect(await port.readTranscript(authFor(t), run.run_id)).toEqual(all);
      const tail = await port.readTranscript(authFor(t), run.run_id, { maxBytes: 700_000 });
      expect(tail).toEqual(all.slice(2));
    });

    it('pages step records after a step, in step order', async () => {
      const port = await factory();
      const t = tenant();
      const run = runRecord(t);
      await port.createRun(authFor(t), run, [queued(run.run_id)]);
      for (const step of [1, 2, 3]) {
        await port.commit(authFor(t), run.run_id, {
          requireStatus: ['queued'],
          events: [],
          step: stepRecordOf(run.run_id, step),
        });
      }
      expect(await port.listSteps(authFor(t), run.run_id, { after: 0, limit: 10 })).toEqual(
        [1, 2, 3].map((step) => stepRecordOf(run.run_id, step)),
      );
      expect(
        (await port.listSteps(authFor(t), run.run_id, { after: 1, limit: 1 })).map((s) => s.step),
      ).toEqual([2]);
    });

    it('lists runs newest first, by status and by principal, a page at a time', async () => {
      const port = await factory();
      const t = tenant();
      const base = Date.parse('2026-03-01T00:00:00.000Z');
      const runs = Array.from({ length: 5 }, (_, i) => ({
        ...runRecord(t),
        principal_id: i % 2 === 0 ? 'alice' : 'bob',
        created_at: new Date(base + i * 1000).toISOString(),
      }));
      for (const run of runs) await port.createRun(authFor(t), run, [queued(run.run_id)]);
      await port.commit(authFor(t), runs[3]!.run_id, {
        requireStatus: ['queued'],
        status: 'canceled',
        events: [newEvent(`${runs[3]!.run_id}:run.terminal`, 'run.canceled', { status: 'canceled' })],
      });
      const newestFirst = [...runs].reverse().map((r) => r.run_id);
      const collected: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await port.listRuns(authFor(t), {
          limit: 2,
          ...(cursor === undefined ? {} : { cursor }),
        });
        expect(page.runs.length).toBeLessThanOrEqual(2);
        collected.push(...page.runs.map((r) => r.run_id));
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
      expect(collected).toEqual(newestFirst);
      const canceled = await port.listRuns(authFor(t), { limit: 10, status: 'canceled' });
      expect(canceled).toMatchObject({
        runs: [{ run_id: runs[3]!.run_id, status: 'canceled' }],
        nextCursor: null,
      });
      const queuedRuns = await port.listRuns(authFor(t), { limit: 10, status: 'queued' });
      expect(queuedRuns.runs.map((r) => r.run_id)).toEqual(
        newestFirst.filter((id) => id !== runs[3]!.run_id),
      );
      const alice = await port.listRuns(authFor(t), { limit: 2, principalId: 'alice' });
      expect(alice.runs.map((r) => r.run_id)).toEqual([runs[4]!.run_id, runs[2]!.run_id]);
      const aliceRest = await port.listRuns(authFor(t), {
        limit: 2,
        principalId: 'alice',
        cursor: alice.nextCursor!,
      });
      expect(aliceRest).toMatchObject({ runs: [{ run_id: runs[0]!.run_id }], nextCursor: null });
      const bob = await port.listRuns(authFor(t), { limit: 10, principalId: 'bob', status: 'queued' });
      expect(bob.runs.map((r) => r.run_id)).toEqual([runs[1]!.run_id]);
    });

    it('keeps a page of large runs within 4 MiB, the rest on the next pages', async () => {
      const port = await factory();
      const t = tenant();
      const base = Date.parse('2026-03-02T00:00:00.000Z');
      // Twenty runs of about 250 KB of input each: 5 MB, more than one Lambda response should carry.
      const runs = Array.from({ length: 20 }, (_, i) => ({
        ...runRecord(t),
        input: { messages: [{ role: 'user' as const, content: 'x'.repeat(250_000) }] },
        created_at: new Date(base + i * 1000).toISOString(),
      }));
      for (const run of runs) await port.createRun(authFor(t), run, [queued(run.run_id)]);
      const collected: string[] = [];
      let pages = 0;
      let cursor: string | undefined;
      do {
        const page = await port.listRuns(authFor(t), {
          limit: 100,
          ...(cursor === undefined ? {} : { cursor }),
        });
        expect(Buffer.byteLength(JSON.stringify(page.runs), 'utf8')).toBeLessThanOrEqual(4 * 1024 * 1024);
        collected.push(...page.runs.map((r) => r.run_id));
        cursor = page.nextCursor ?? undefined;
        pages += 1;
      } while (cursor !== undefined && pages < 10);
      expect(pages).toBeGreaterThan(1);
      expect(collected).toEqual([...runs].reverse().map((r) => r.run_id));
    });

    it('bounds a status-filtered listing per call, and pages every matching run once, in order', async () => {
      const port = await factory();
      const t = tenant();
      const base = Date.parse('2026-03-03T00:00:00.000Z');
      // More runs than one call examines: a few failed ones and one canceled among completed ones.
      const total = maxRunIndexEntriesPerList + 50;
      const failedAt = new Set([total - 10, 10, 5]);
      const statusAt = (i: number): RunStatus =>
        failedAt.has(i) ? 'failed' : i === 0 ? 'canceled' : 'completed';
      const runs = Array.from({ length: total }, (_, i) => ({
        ...runRecord(t),
        status: statusAt(i),
        created_at: new Date(base + i * 1000).toISOString(),
      }));
      for (let start = 0; start < runs.length; start += 25) {
        await Promise.all(runs.slice(start, start + 25).map((run) => port.createRun(authFor(t), run, [])));
      }
      const newestFirst = [...runs].reverse();
      const pagesOf = async (status: RunStatus, limit: number) => {
        const pages: { ids: string[]; nextCursor: string | null }[] = [];
        let cursor: string | undefined;
        do {
          const page = await port.listRuns(authFor(t), {
            status,
            limit,
            ...(cursor === undefined ? {} : { cursor }),
          });
          expect(page.runs.length).toBeLessThanOrEqual(limit);
          expect(page.runs.every((run) => run.status === status)).toBe(true);
          pages.push({ ids: page.runs.map((run) => run.run_id), nextCursor: page.nextCursor });
          cursor = page.nextCursor ?? undefined;
        } while (cursor !== undefined && pages.length < 20);
        return pages;
      };
      const failed = await pagesOf('failed', 2);
      expect(failed.flatMap((page) => page.ids)).toEqual(
        newestFirst.filter((run) => run.status === 'failed').map((run) => run.run_id),
      );
      // The first call stops at the bound with one match of two: a short page that carries a cursor.
      expect(failed[0]).toEqual({ ids: [runs[total - 10]!.run_id], nextCursor: expect.any(String) });
      const canceled = await pagesOf('canceled', 10);
      expect(canceled.flatMap((page) => page.ids)).toEqual([runs[0]!.run_id]);
      expect(canceled[0]).toEqual({ ids: [], nextCursor: expect.any(String) });
      expect(canceled.at(-1)?.nextCursor).toBeNull();
      const completed = await pagesOf('completed', 100);
      const ids = completed.flatMap((page) => page.ids);
      expect(new Set(ids).size).toBe(ids.length);
      expect(ids).toEqual(newestFirst.filter((run) => run.status === 'completed').map((run) => run.run_id));
    });

    it('throws invalid_request for a cursor it did not give out', async () => {
      const port = await factory();
      await expect(
        port.listRuns(authFor(tenant()), { limit: 5, cursor: 'not-a-cursor' }),
      ).rejects.toMatchObject({
        code: 'invalid_request',
      });
    });

    it('returns nothing of a run to another tenant: events, transcript, steps, runs', async () => {
      const port = await factory();
      const owner = tenant();
      const other = tenant();
      const run = runRecord(owner);
      await port.createRun(authFor(owner), run, [queued(run.run_id)]);
      await port.commit(authFor(owner), run.run_id, {
        requireStatus: ['queued'],
        events: [],
        appendTranscript: stepMessages(1, 5),
        step: stepRecordOf(run.run_id, 1),
      });
      expect(await port.getEvents(authFor(other), run.run_id, [`${run.run_id}:run.queued`])).toEqual([]);
      expect(await port.readTranscript(authFor(other), run.run_id)).toEqual([]);
      expect(await port.readTranscript(authFor(other), run.run_id, { maxBytes: 10_000 })).toEqual([]);
      expect(await port.listSteps(authFor(other), run.run_id, { after: 0, limit: 10 })).toEqual([]);
      expect(await port.listRuns(authFor(other), { limit: 10 })).toEqual({ runs: [], nextCursor: null });
      expect(
        await port.findIdempotentRun(authFor(other), claim('scope-t', 'body'), new Date().toISOString()),
      ).toBeUndefined();
    });

    it('finds what a live claim answers without creating anything', async () => {
      const port = await factory();
      const t = tenant();
      const run = runRecord(t);
      const now = new Date().toISOString();
      expect(await port.findIdempotentRun(authFor(t), claim('scope-f', 'body-1'), now)).toBeUndefined();
      await port.createRun(authFor(t), run, [queued(run.run_id)], claim('scope-f', 'body-1'));
      expect(await port.findIdempotentRun(authFor(t), claim('scope-f', 'body-1'), now)).toMatchObject({
        outcome: 'replayed',
        run: { run_id: run.run_id },
      });
      expect(await port.findIdempotentRun(authFor(t), claim('scope-f', 'body-2'), now)).toEqual({
        outcome: 'key_reused',
      });
      const later = new Date(Date.now() + 2 * 86_400_000).toISOString();
      expect(await port.findIdempotentRun(authFor(t), claim('scope-f', 'body-1'), later)).toBeUndefined();
    });

    describe.each(Object.entries(limiters))('with the run rate taken through %s', (_, limiter) => {
      // Two creations at once, none more within the hour: no refill during a case.
      const bucket = (t: string) => ({
        key: `tenant/${t}/limits/run-rate`,
        limit: { rate: 1, periodSeconds: 3_600, burst: 2 },
      });

      it('takes one creation from the bucket per run it creates, none for a replay, and refuses past it', async () => {
        const port = await factory();
        const rate = { bucket: bucket(tenant()), limiter: await limiter() };
        const t = tenant();
        const first = runRecord(t);
        const created = await port.createRun(
          authFor(t),
          first,
          [queued(first.run_id)],
          claim('r-1', 'b'),
          rate,
        );
        expect(created).toMatchObject({ outcome: 'created', rate: { allowed: true, remaining: 1 } });
        const again = runRecord(t);
        const replay = await port.createRun(
          authFor(t),
          again,
          [queued(again.run_id)],
          claim('r-1', 'b'),
          rate,
        );
        expect(replay).toMatchObject({ outcome: 'replayed', run: { run_id: first.run_id } });
        const second = runRecord(t);
        expect(
          await port.createRun(authFor(t), second, [queued(second.run_id)], claim('r-2', 'b'), rate),
        ).toMatchObject({
          outcome: 'created',
          rate: { allowed: true, remaining: 0 },
        });
        const third = runRecord(t);
        const refused = await port.createRun(
          authFor(t),
          third,
          [queued(third.run_id)],
          claim('r-3', 'b'),
          rate,
        );
        expect(refused).toMatchObject({ outcome: 'rate_limited', rate: { allowed: false } });
        expect(await port.getRun(authFor(t), third.run_id)).toBeUndefined();
        expect(
          await port.findIdempotentRun(authFor(t), claim('r-3', 'b'), new Date().toISOString()),
        ).toBeUndefined();
        // A replay answers even once the bucket is spent: it takes nothing.
        const late = runRecord(t);
        expect(
          await port.createRun(authFor(t), late, [queued(late.run_id)], claim('r-1', 'b'), rate),
        ).toMatchObject({
          outcome: 'replayed',
          run: { run_id: first.run_id },
        });
      });

      it('creates exactly as many runs as the bucket holds from concurrent creations', async () => {
        const port = await factory();
        const rate = { bucket: bucket(tenant()), limiter: await limiter() };
        const t = tenant();
        const runs = Array.from({ length: 12 }, () => runRecord(t));
        const results = await Promise.all(
          runs.map((run, index) =>
            port.createRun(authFor(t), run, [queued(run.run_id)], claim(`c-${index}`, 'b'), rate),
          ),
        );
        expect(results.filter((result) => result.outcome === 'created')).toHaveLength(2);
        expect(results.filter((result) => result.outcome === 'rate_limited')).toHaveLength(10);
        const stored = await Promise.all(runs.map((run) => port.getRun(authFor(t), run.run_id)));
        expect(stored.filter((run) => run !== undefined)).toHaveLength(2);
      });
    });
  });
}
