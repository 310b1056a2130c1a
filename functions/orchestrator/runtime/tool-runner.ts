import type { AuthContext } from '../../shared/auth/auth-context.ts';
import type { AssistantMessage, ChatMessage, ToolCall } from '../../shared/contracts/chat.ts';
import type { FailureReporter } from '../../shared/observability/failure-reporter.ts';
import type { Clock } from '../../shared/timing/clock.ts';
import type { AgentDefinition } from '../ports/agent-registry-port.ts';
import type { CommitResult, RunCommit, RunRecord, RunStatePort } from '../ports/run-state-port.ts';
import { isRetryableToolError, toolErrorResult } from '../ports/tool-port.ts';
import type { ToolPort, ToolResult } from '../ports/tool-port.ts';
import { newEvent } from '../schemas/event.ts';
import { cutText } from './step-record.ts';
import type { NewEvent, RunEvent } from '../schemas/event.ts';
import type { RunError } from '../schemas/run.ts';
import type { ToolAttempt, ToolCallRecord } from '../schemas/step.ts';
import { ToolErrorSchema } from '../schemas/tool.ts';
import type { ToolError } from '../schemas/tool.ts';
import { eventIds } from './event-ids.ts';
import type { ToolGate } from './tool-gate.ts';

/**
 * Runs the tool calls of one model message (HLD §10.1): the agent's allow-list, a `tool.requested`
 * and `tool.completed` event pair per attempt, a timeout per attempt (the shorter of the agent's
 * tool timeout and what is left of the step), and the agent's `on_tool_error` policy for retryable
 * failures (hand the error to the model, retry with doubling backoff, or abort the run). A
 * redelivered step replays every attempt whose `tool.completed` is stored instead of calling the
 * tool again, so a side effect happens once as far as the tool allows; each call carries the
 * idempotency key `<run_id>/s<step>/c<index>` for the rest.
 */

/** What the runner needs from the world; `commit` is the engine's (it publishes and maps conflicts). */
export type ToolRunnerDeps = {
  runs: RunStatePort;
  tools: ToolPort;
  clock: Clock;
  commit: (auth: AuthContext, runId: string, change: RunCommit) => Promise<CommitResult>;
  reportFailure: FailureReporter;
  /** The tenant's tool limits, asked before each fresh attempt (tool-gate.ts); absent, none apply. */
  gate?: ToolGate;
};

export type ToolRunRequest = {
  auth: AuthContext;
  run: RunRecord;
  agent: AgentDefinition;
  step: number;
  message: AssistantMessage;
  /** Epoch ms by which the step must be over (its `step_timeout_seconds`). */
  deadlineMs: number;
  /** Aborted when the step gives up (cancellation, the worker's own limit). */
  signal?: AbortSignal;
  /**
   * The step's tool calls start afresh: the commit that stored the model's answer was the run's next
   * write, so no event of these calls is stored, and it stored the first call's first
   * `tool.requested` too ({@link ToolRunner.firstRequested}). Nothing is read back, and that event is
   * not committed again.
   */
  fresh?: boolean;
  /**
   * The last call's final `tool.completed` is not committed but handed back in
   * {@link ToolRunOutcome.pending}, for the commit that completes the step to store with it (one
   * write fewer per step), unless the agent's policy aborts the run.
   */
  deferLast?: boolean;
};

/** What the tool calls of a step came to. */
export type ToolRunOutcome = {
  /** The tool messages handed to the model next step, one per call, in call order. */
  messages: ChatMessage[];
  run: RunRecord;
  calls: ToolCallRecord[];
  /** Set when the agent's policy aborts the run: the engine fails it with this error. */
  abort?: RunError;
  /** The longest pause a `wait` call asked for (0: none). */
  suspendSeconds: number;
  /**
   * With {@link ToolRunRequest.deferLast}: the last `tool.completed`, not yet stored; the commit that
   * stores it must apply only while the run is still at `run.last_sequence`, or the step is redone.
   */
  pending?: NewEvent[];
};

/** The most of a tool's output kept in an event and handed to the model (an event is one stored item). */
export const maxToolOutputBytes = 128 * 1024;

/** How much of each attempt's output a step record keeps. */
const recordOutputBytes = 16 * 1024;

/** `text` within `bytes` UTF-8 bytes, with a note saying it was cut when `note`. */
function cut(text: string, bytes: number, note: boolean): string {
  if (Buffer.byteLength(text, 'utf8') <= bytes) return text;
  const marker = note ? `\n[output cut at ${bytes} bytes]` : '';
  return `${cutText(text, bytes - Buffer.byteLength(marker, 'utf8'))}${marker}`;
}

/** The idempotency key of a step's `index`-th tool call. */
export function toolIdempotencyKey(runId: string, step: number, index: number): string {
  return `${runId}/s${step}/c${index}`;
}

/** Event id of one attempt of a call: attempt 1 keeps the id older nodes used; later ones add `:a<n>`. */
export function toolEventId(
  runId: string,
  step: number,
  kind: 'tool.requested' | 'tool.completed',
  toolCallId: string,
  attempt: number,
): string {
  const base = eventIds.tool(runId, step, kind, toolCallId);
  return attempt === 1 ? base : `${base}:a${attempt}`;
}

/** The `tool.requested` of one attempt of a call. */
function requestedEvent(runId: string, step: number, call: ToolCall, attempt: number): NewEvent {
  return newEvent(toolEventId(runId, step, 'tool.requested', call.id, attempt), 'tool.requested', {
    step,
    tool_call_id: call.id,
    name: call.function.name,
    arguments: call.function.arguments,
    attempt,
  });
}

/** A stored `tool.completed` as the result it recorded. */
function resultOf(event: RunEvent): ToolResult {
  const data = event.data;
  const parsedError = ToolErrorSchema.safeParse(data['error']);
  const error: ToolError | undefined = parsedError.success ? parsedError.data : undefined;
  const suspend = data['suspend_seconds'];
  return {
    output: typeof data['output'] === 'string' ? data['output'] : '',
    isError: data['is_error'] === true,
    ...(error === undefined ? {} : { error: { ...error, retryable: isRetryableToolError(error) } }),
    ...(typeof suspend === 'number' ? { suspendSeconds: suspend } : {}),
  };
}

const timedOut = Symbol('timed out');

type CallOutcome = {
  message: ChatMessage;
  record: ToolCallRecord;
  run: RunRecord;
  abort?: RunError;
  suspendSeconds: number;
  pending?: NewEvent;
};

/** What follows an attempt's result under the agent's `on_tool_error`: the call ends, or it is tried again. */
type AfterAttempt = { kind: 'end'; abort?: RunError } | { kind: 'again'; delayMs: number };

/** Creates the runner the step engine hands each model message with tool calls. */
export function createToolRunner(deps: ToolRunnerDeps) {
  /** One attempt: the call, bounded by the shorter of the agent's tool timeout and the step's time left. */
  async function attemptCall(request: ToolRunRequest, call: ToolCall, index: number): Promise<ToolResult> {
    const { auth, run, agent, step } = request;
    const name = call.function.name;
    // The agent's tool list is its allow-list; `wait` needs a run a Step Functions execution drives.
    if (!agent.tool_ids.includes(name)) {
      return toolErrorResult('not_allowed', `Tool "${name.slice(0, 64)}" is not available to this agent`);
    }
    if (name === 'wait' && agent.run_mode !== 'long') {
      return toolErrorResult('not_allowed', 'Only long-running agents (run_mode "long") can wait');
    }
    const refused = await deps.gate?.(auth, name);
    if (refused !== undefined) return refused;
    const left = request.deadlineMs - deps.clock.now();
    if (left <= 0)
      return toolErrorResult('timeout', 'The step had no time left for the call', { retryable: false });
    const timeoutMs = Math.max(1, Math.min(agent.tool_timeout_ms, left));
    const controller = new AbortController();
    const stop = () => controller.abort();
    request.signal?.addEventListener('abort', stop, { once: true });
    const invocation = deps.tools.invoke(auth, {
      toolCallId: call.id,
      name,
      arguments: call.function.arguments,
      runId: run.run_id,
      step,
      idempotencyKey: toolIdempotencyKey(run.run_id, step, index),
      timeoutMs,
      memoryNamespace: agent.memory_namespace,
      signal: controller.signal,
    });
    const timer = deps.clock.sleep(timeoutMs, controller.signal).then((): typeof timedOut => timedOut);
    try {
      const winner = await Promise.race([invocation, timer]);
      if (winner !== timedOut) return winner;
      // The abandoned call is told to stop; whatever it still ends with is only reported.
      invocation.catch((error: unknown) =>
        deps.reportFailure('tool call failed after its timeout', error, { run_id: run.run_id, tool: name }),
      );
      return toolErrorResult('timeout', `The tool did not answer within ${timeoutMs} ms`);
    } finally {
      controller.abort();
      request.signal?.removeEventListener('abort', stop);
    }
  }

  async function runCall(
    request: ToolRunRequest,
    run: RunRecord,
    call: ToolCall,
    index: number,
    last: boolean,
  ): Promise<CallOutcome> {
    const { auth, agent, step } = request;
    const runId = run.run_id;
    const name = call.function.name;
    const policy = agent.on_tool_error;
    const maxAttempts = policy.action === 'retry' ? policy.max_attempts : 1;
    const ids = (attempt: number) => ({
      requested: toolEventId(runId, step, 'tool.requested', call.id, attempt),
      completed: toolEventId(runId, step, 'tool.completed', call.id, attempt),
    });
    // Attempts a previous delivery finished are replayed from their events, never run again.
    const wanted = Array.from({ length: maxAttempts }, (_, i) => ids(i + 1)).flatMap((id) => [
      id.requested,
      id.completed,
    ]);
    const stored = new Map(
      // Only the first call is known unstored: a delivery beside this one may have made later ones.
      request.fresh === true && index === 0
        ? []
        : (await deps.runs.getEvents(auth, runId, wanted)).map((event) => [event.event_id, event]),
    );
    const attempts: ToolAttempt[] = [];
    let latest = run;
    let result: ToolResult;
    let abort: RunError | undefined;
    let pending: NewEvent | undefined;
    /** What follows `result` of `attempt`; `nextStored`: that delivery already made the next attempt. */
    const after = (attempt: number, nextStored: boolean): AfterAttempt => {
      if (!result.isError || policy.action === 'continue') return { kind: 'end' };
      const error = result.error ?? { code: 'failed' as const, message: result.output, retryable: false };
      // The model can mend its own mistakes (bad arguments, a tool it may not call): never a reason to end the run.
      if (error.code === 'invalid_arguments' || error.code === 'not_allowed') return { kind: 'end' };
      if (policy.action === 'abort') return { kind: 'end', abort: abortError(name, error) };
      // Trying again cannot help (a 4xx, a refused destination): the model hears of it instead.
      if (!error.retryable) return { kind: 'end' };
      const delayMs = policy.backoff_ms * 2 ** (attempt - 1);
      const exhausted =
        attempt >= maxAttempts || (!nextStored && deps.clock.now() + delayMs >= request.deadlineMs);
      if (exhausted)
        return policy.on_exhausted === 'abort'
          ? { kind: 'end', abort: abortError(name, error) }
          : { kind: 'end' };
      return { kind: 'again', delayMs };
    };
    for (let attempt = 1; ; attempt += 1) {
      const id = ids(attempt);
      const done = stored.get(id.completed);
      let startedAt: string;
      let durationMs: number;
      if (done !== undefined) {
        result = resultOf(done);
        startedAt = stored.get(id.requested)?.time ?? done.time;
        const recorded = done.data['duration_ms'];
        durationMs = typeof recorded === 'number' ? recorded : 0;
      } else {
        // A fresh step's first request was stored with the model's answer.
        const requestStored = request.fresh === true && index === 0 && attempt === 1;
        if (!stored.has(id.requested) && !requestStored) {
          const requested = await deps.commit(auth, runId, {
            requireStatus: ['running'],
            events: [requestedEvent(runId, step, call, attempt)],
          });
          latest = requested.run;
        }
        const started = deps.clock.now();
        startedAt = new Date(started).toISOString();
        const fresh = await attemptCall(request, call, index);
        durationMs = Math.max(0, Math.round(deps.clock.now() - started));
        const output = cut(fresh.output, maxToolOutputBytes, true);
        const error = fresh.error === undefined ? undefined : plainError(fresh.error);
        const completed = newEvent(id.completed, 'tool.completed', {
          step,
          tool_call_id: call.id,
          name,
          attempt,
          output,
          is_error: fresh.isError,
          ...(error === undefined ? {} : { error }),
          duration_ms: durationMs,
          ...(fresh.suspendSeconds === undefined ? {} : { suspend_seconds: fresh.suspendSeconds }),
        });
        result = { ...fresh, output };
        const next = after(attempt, stored.has(ids(attempt + 1).completed));
        if (last && request.deferLast === true && next.kind === 'end' && next.abort === undefined) {
          // Stored by the step's completing commit, which applies only while the run is at `latest`.
          pending = completed;
        } else {
          const committed = await deps.commit(auth, runId, {
            requireStatus: ['running'],
            events: [completed],
          });
          latest = committed.run;
          // Another delivery may have stored this attempt meanwhile: the stored result wins.
          const storedNow = committed.events[0];
          if (storedNow !== undefined) result = resultOf(storedNow);
        }
      }
      attempts.push({
        attempt,
        started_at: startedAt,
        duration_ms: durationMs,
        is_error: result.isError,
        ...(result.error === undefined ? {} : { error: plainError(result.error) }),
        output: cut(result.output, recordOutputBytes, false),
      });
      const nextStored = stored.has(ids(attempt + 1).completed);
      const next = after(attempt, nextStored);
      if (next.kind === 'end') {
        abort = next.abort;
        break;
      }
      if (!nextStored) await deps.clock.sleep(next.delayMs, request.signal);
    }
    return {
      message: { role: 'tool', tool_call_id: call.id, content: result.output },
      record: {
        tool_call_id: call.id,
        name,
        arguments: cutText(call.function.arguments),
        idempotency_key: toolIdempotencyKey(runId, step, index),
        attempts,
      },
      run: latest,
      ...(abort === undefined ? {} : { abort }),
      ...(pending === undefined ? {} : { pending }),
      suspendSeconds: result.isError ? 0 : (result.suspendSeconds ?? 0),
    };
  }

  return {
    /**
     * The `tool.requested` of the first attempt of `message`'s first tool call, for the commit that
     * stores the model's answer to carry (then run the calls with {@link ToolRunRequest.fresh});
     * undefined when the message calls no tool.
     */
    firstRequested(runId: string, step: number, message: AssistantMessage): NewEvent | undefined {
      const call = message.tool_calls?.[0];
      if (call === undefined) return undefined;
      return requestedEvent(runId, step, call, 1);
    },

    /** Runs the message's tool calls in order; stops at the first one the agent's policy aborts on. */
    async run(request: ToolRunRequest): Promise<ToolRunOutcome> {
      const messages: ChatMessage[] = [];
      const calls: ToolCallRecord[] = [];
      let run = request.run;
      let suspendSeconds = 0;
      const toolCalls = request.message.tool_calls ?? [];
      for (const [index, call] of toolCalls.entries()) {
        const outcome = await runCall(request, run, call, index, index === toolCalls.length - 1);
        run = outcome.run;
        messages.push(outcome.message);
        calls.push(outcome.record);
        suspendSeconds = Math.max(suspendSeconds, outcome.suspendSeconds);
        if (outcome.abort !== undefined)
          return { messages, run, calls, abort: outcome.abort, suspendSeconds };
        if (outcome.pending !== undefined)
          return { messages, run, calls, suspendSeconds, pending: [outcome.pending] };
      }
      return { messages, run, calls, suspendSeconds };
    },
  };
}

/** A tool error as events and step records keep it (without `retryable`, which follows from it). */
function plainError(error: ToolError): ToolError {
  return {
    code: error.code,
    message: error.message,
    ...(error.status === undefined ? {} : { status: error.status }),
  };
}

function abortError(name: string, error: ToolError): RunError {
  return {
    code: 'tool_failed',
    message: `Tool "${name.slice(0, 64)}" failed with ${error.code}${error.status === undefined ? '' : ` (HTTP ${error.status})`}: ${error.message.slice(0, 512)}`,
  };
}

export type ToolRunner = ReturnType<typeof createToolRunner>;
