import { failureReporter } from './call-preparation.ts';
import type { FinishReason } from '../../shared/contracts/chat.ts';
import { AgentOsError, DependencyUnavailableError } from '../../shared/errors/agentos-error.ts';
import { redactionKindsOf, redactionRules } from '../policy/policy-engine.ts';
import { addCounts } from '../policy/sensitive-text.ts';
import type { RedactionCounts } from '../policy/sensitive-text.ts';
import { StreamRedactor } from '../policy/stream-redactor.ts';
import { redactStructuredText } from '../policy/structured-redaction.ts';
import { ProviderError } from '../ports/model-provider-port.ts';
import type { ProviderUsage } from '../ports/model-provider-port.ts';
import { StreamedMessage } from './stream-assembly.ts';
import type { ToolCallDelta } from './stream-assembly.ts';
import type { RoutedStream } from '../router/fallback-executor.ts';
import type { GatewayDeps, PreparedCall } from './call-preparation.ts';
import { actualAmount, settleCompleted, settlePartial } from './call-settlement.ts';
import { OutputMeter } from './output-meter.ts';
import { checkStructuredOutput } from './response-format.ts';
import type { StoredCall } from '../schemas/stored-call.ts';

/** A piece of a streamed answer, in the provider port's indexed-delta convention. */
export type StreamDelta = { type: 'delta'; content?: string; tool_calls?: ToolCallDelta[] };

/** What a live stream yields: deltas, then, once settled, the whole call. */
export type StreamEvent = StreamDelta | { type: 'done'; call: StoredCall };

type Finish = { finish_reason: FinishReason; usage: ProviderUsage };

/** What one stream accumulates while it is relayed. */
type PumpState = {
  meter: OutputMeter;
  /** Present when output redaction is on. */
  redactor: StreamRedactor | undefined;
  streamed: StreamedMessage;
};

/**
 * Relay: yields each backend chunk as a client delta, metered (cut at the reservation) and, with
 * output redaction on, held back by the redactor; returns the backend's finish, or `undefined` when
 * the meter cut the stream. Throws `stream_cut` when the backend ended without finishing.
 */
async function* relay(
  opened: RoutedStream,
  state: PumpState,
): AsyncGenerator<StreamDelta, Finish | undefined> {
  const { meter, redactor, streamed } = state;
  let next: IteratorResult<(typeof opened)['first']> = { done: false, value: opened.first };
  while (next.done !== true) {
    const chunk = next.value;
    opened.deadline.touch();
    if (chunk.type === 'finish') return chunk;
    const out: StreamDelta = { type: 'delta' };
    if (chunk.content !== undefined && chunk.content !== '') {
      const admitted = meter.admitContent(chunk.content);
      if (admitted !== '') streamed.markContent();
      const emitted = redactor === undefined ? admitted : redactor.push(admitted);
      if (emitted !== '') {
        streamed.appendText(emitted);
        out.content = emitted;
      }
    }
    for (const delta of chunk.tool_calls ?? []) {
      if (!meter.admitToolCall(delta.index, delta.arguments ?? '')) break;
      streamed.addToolCallDelta(delta);
      if (redactor === undefined) (out.tool_calls ??= []).push(delta);
    }
    if (out.content !== undefined || out.tool_calls !== undefined) yield out;
    if (meter.exhausted) return undefined;
    next = await opened.rest.next();
  }
  throw new ProviderError('stream_cut', 'the stream ended before it finished');
}

/** Stops the backend stream early (it was cut at the reservation) or just clears its idle deadline. */
async function closeBackend(
  deps: GatewayDeps,
  opened: RoutedStream,
  cut: boolean,
  why: string,
): Promise<void> {
  if (!cut) {
    opened.deadline.dispose();
    return;
  }
  opened.deadline.abort();
  await opened.rest.return?.().catch((error: unknown) => failureReporter(deps)(why, error, {}));
}

/**
 * Flush: with output redaction on, releases what the redactor held back and the tool-call
 * arguments, redacted whole; returns that last delta (if any) and what was redacted.
 */
function flushRedaction(
  call: PreparedCall,
  state: PumpState,
): { tail: StreamDelta | undefined; counts: RedactionCounts } {
  const counts: RedactionCounts = {};
  if (state.redactor === undefined) return { tail: undefined, counts };
  const tail: StreamDelta = { type: 'delta' };
  const rest = state.redactor.flush();
  addCounts(counts, state.redactor.counts);
  if (rest !== '') {
    state.streamed.appendText(rest);
    tail.content = rest;
  }
  for (const partial of state.streamed.toolCalls()) {
    const redacted = redactStructuredText(partial.arguments, redactionKindsOf(call.policy));
    addCounts(counts, redacted.counts);
    state.streamed.setToolCallArguments(partial.index, redacted.text);
    (tail.tool_calls ??= []).push({ ...partial, arguments: redacted.text });
  }
  return { tail: tail.content !== undefined || tail.tool_calls !== undefined ? tail : undefined, counts };
}

/** The call as stored and replayed: message, finish, usage and cost, route, and the policy outcome. */
function storedCallOf(
  call: PreparedCall,
  opened: RoutedStream,
  identity: { completionId: string; created: number },
  state: PumpState,
  finish: Finish | undefined,
  outputCounts: RedactionCounts,
): StoredCall {
  const usage =
    finish === undefined
      ? { prompt_tokens: call.promptTokens, completion_tokens: state.meter.tokens }
      : finish.usage;
  const policy =
    state.redactor === undefined
      ? call.outcome
      : {
          ...call.outcome,
          decision:
            call.outcome.decision === 'allow' && Object.keys(outputCounts).length > 0
              ? ('redact' as const)
              : call.outcome.decision,
          rules: [...call.outcome.rules, ...redactionRules(outputCounts, 'output')],
          output_redactions: { ...outputCounts },
        };
  return {
    request_id: call.input.requestId,
    completion_id: identity.completionId,
    created: identity.created,
    model_ref: call.input.modelRef,
    model: opened.route.model,
    message: state.streamed.message(),
    finish_reason: finish === undefined ? 'length' : finish.finish_reason,
    usage: { ...usage, cost_nano: actualAmount(call, opened.route.model, usage).nano },
    route: opened.route,
    policy,
  };
}

/** A stream that broke or was abandoned: closed, and billed for what it produced; its request id is freed. */
async function settleBroken(
  deps: GatewayDeps,
  call: PreparedCall,
  opened: RoutedStream,
  state: PumpState,
  errorCode: string,
): Promise<void> {
  await closeBackend(deps, opened, true, 'a broken backend stream did not close');
  try {
    await settlePartial(deps, call, opened.route, state.meter.tokens, errorCode);
  } catch (error) {
    deps.log.error('could not settle a broken stream; its reservation stays held', {
      error_name: (error as Error).name,
    });
  }
}

/** The error a client sees for a stream that failed before it was settled. */
function midStreamError(error: unknown, opened: RoutedStream): AgentOsError {
  if (error instanceof AgentOsError) return error;
  const message =
    error instanceof ProviderError && error.kind === 'output_invalid'
      ? 'The model answer does not match response_format'
      : 'The model backend failed mid-stream';
  return new DependencyUnavailableError(message, {
    cause: error,
    details: { reason: error instanceof ProviderError ? error.kind : 'server_error', route: opened.route },
  });
}

/**
 * Relays a started stream to the client and settles it (HLD §3.2 metering), in named steps: relay
 * (metered, cut at the reservation, held back by the redactor when output redaction is on), close
 * the backend, flush what redaction held, then settle and yield the stored call. A stream that
 * breaks, or whose client goes away, is billed for what it produced and its request id is freed.
 */
export async function* pumpStream(
  deps: GatewayDeps,
  call: PreparedCall,
  opened: RoutedStream,
  identity: { completionId: string; created: number },
): AsyncGenerator<StreamEvent> {
  const state: PumpState = {
    meter: new OutputMeter(call.reservation.outputTokens),
    redactor: call.policy.redaction.output ? new StreamRedactor(redactionKindsOf(call.policy)) : undefined,
    streamed: new StreamedMessage(),
  };
  let phase: 'streaming' | 'settling' | 'settled' = 'streaming';
  try {
    const finish = yield* relay(opened, state);
    await closeBackend(deps, opened, state.meter.exhausted, 'a cut backend stream did not close');
    const flushed = flushRedaction(call, state);
    if (flushed.tail !== undefined) yield flushed.tail;
    if (finish !== undefined && finish.finish_reason !== 'length') {
      // Structured output can only be checked whole; a mismatch ends the stream with an error event.
      const message = state.streamed.message();
      await checkStructuredOutput(
        call.input.passThrough?.response_format,
        message.content,
        (message.tool_calls ?? []).length > 0,
      );
    }
    phase = 'settling';
    const stored = storedCallOf(call, opened, identity, state, finish, flushed.counts);
    await settleCompleted(deps, call, stored, deps.now().getTime() - call.startedAt.getTime());
    phase = 'settled';
    yield { type: 'done', call: stored };
  } catch (error) {
    if (phase !== 'streaming') throw error;
    phase = 'settled';
    await settleBroken(deps, call, opened, state, call.input.signal.aborted ? 'client_closed' : 'stream_cut');
    throw midStreamError(error, opened);
  } finally {
    // The consumer stopped reading (the client went away) while the stream was still running.
    if (phase === 'streaming') await settleBroken(deps, call, opened, state, 'client_closed');
  }
}
