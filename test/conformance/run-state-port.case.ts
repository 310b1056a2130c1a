import { describe, expect, it } from 'vitest';
import type { AuthContext } from '../../functions/shared/auth/auth-context.ts';
import {
  maxRunRecordBytes,
  RunStateConflictError,
  RunTooLargeError,
} from '../../functions/orchestrator/ports/run-state-port.ts';
import type { RunRecord, RunStatePort } from '../../functions/orchestrator/ports/run-state-port.ts';
import { newRunId } from '../../functions/orchestrator/runtime/run-id.ts';
import { newEvent } from '../../functions/orchestrator/schemas/event.ts';

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
    principal_id: `user-${tenant}`,
    status: 'queued',
    input: { messages: [{ role: 'user', content: 'hi' }] },
    output: null,
    error: null,
    metadata: {},
    transcript: [{ role: 'user', content: 'hi' }],
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
export function runStatePortConformance(name: string, factory: () => Promise<RunStatePort>): void {
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
      expect(await port.getRun(authFor(t), newRunId())).toBeUndefined();
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
      const ids = new Set(results.map((r) => (r.outcome === 'key_reused' ? 'reused' : r.run.run_id)));
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
        transcript: [{ role: 'assistant' as const, content: 'hello' }],
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

    it('refuses a run too large to store, at creation and on commit, and keeps it as it was', async () => {
      const port = await factory();
      const t = tenant();
      const huge = 'x'.repeat(maxRunRecordBytes);
      const oversized = { ...runRecord(t), transcript: [{ role: 'user' as const, content: huge }] };
      const creation = port.createRun(authFor(t), oversized, [queued(oversized.run_id)]);
      await expect(creation).rejects.toBeInstanceOf(RunTooLargeError);
      await expect(creation).rejects.toMatchObject({ limit: maxRunRecordBytes });
      expect(await port.getRun(authFor(t), oversized.run_id)).toBeUndefined();
      const run = runRecord(t);
      await port.createRun(authFor(t), run, [queued(run.run_id)]);
      const before = await port.getRun(authFor(t), run.run_id);
      const growth = port.commit(authFor(t), run.run_id, {
        requireStatus: ['queued'],
        changes: { transcript: [{ role: 'assistant', content: huge }] },
        events: [newEvent(`${run.run_id}:s1:step.started`, 'step.started', { step: 1 })],
      });
      await expect(growth).rejects.toBeInstanceOf(RunTooLargeError);
      expect(await port.getRun(authFor(t), run.run_id)).toEqual(before);
      expect(await port.listEvents(authFor(t), run.run_id, { after: 0, limit: 10 })).toHaveLength(1);
    });

    it('measures a run against the limit to the byte, as the size it reports', async () => {
      const port = await factory();
      const t = tenant();
      const run = runRecord(t);
      await port.createRun(authFor(t), run, [queued(run.run_id)]);
      const withTranscriptOf = (length: number) =>
        port.commit(authFor(t), run.run_id, {
          requireStatus: ['queued'],
          changes: { transcript: [{ role: 'assistant', content: 'x'.repeat(length) }] },
          events: [],
        });
      const refused: unknown = await withTranscriptOf(maxRunRecordBytes).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(RunTooLargeError);
      const excess = (refused as RunTooLargeError).bytes - maxRunRecordBytes;
      expect(excess).toBeGreaterThan(0);
      // The size counts the record's other fields too; one byte over the limit is refused, the limit is not.
      await expect(withTranscriptOf(maxRunRecordBytes - excess + 1)).rejects.toMatchObject({
        bytes: maxRunRecordBytes + 1,
      });
      const fits = await withTranscriptOf(maxRunRecordBytes - excess);
      expect(fits.run.transcript[0]?.content).toHaveLength(maxRunRecordBytes - excess);
    });

    it('keeps what it stores apart from the objects callers pass in and get back', async () => {
      const port = await factory();
      const t = tenant();
      const run = runRecord(t);
      const events = [queued(run.run_id)];
      const created = await port.createRun(authFor(t), run, events);
      run.transcript.push({ role: 'user', content: 'changed' });
      run.metadata['changed'] = 'yes';
      events[0]!.data['status'] = 'changed';
      if (created.outcome === 'created') {
        created.run.usage.prompt_tokens = 99;
        created.events[0]!.data['agent_id'] = 'changed';
      }
      const stored = await port.getRun(authFor(t), run.run_id);
      expect(stored).toMatchObject({
        transcript: [{ role: 'user', content: 'hi' }],
        metadata: {},
        usage: { prompt_tokens: 0 },
      });
      stored!.transcript.length = 0;
      expect((await port.getRun(authFor(t), run.run_id))?.transcript).toHaveLength(1);
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
  });
}
