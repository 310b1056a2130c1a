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
import type { StoredCall } from '../schemas/stored-call.ts';

/** A piece of a streamed answer, in the provider port's indexed-delta convention. */
export type StreamDelta = { type: 'delta'; content?: string; tool_calls?: ToolCallDelta[] };

/** What a live stream yields: deltas, then, once settled, the whole call. */
export type StreamEvent = StreamDelta | { type: 'done'; call: StoredCall };

/**
 * Relays a started stream to the client and settles it (HLD §3.2 metering). Output is metered as it arrives
 * and cut at the reservation (finish `length`); with output redaction on, text passes through a
 * holding redactor and tool-call arguments are released whole at the end. A stream that breaks, or
 * whose client goes away, is billed for what it produced and its request id is freed.
 */
export async function* pumpStream(
  deps: GatewayDeps,
  call: PreparedCall,
  opened: RoutedStream,
  identity: { completionId: string; created: number },
): AsyncGenerator<StreamEvent> {
  const meter = new OutputMeter(call.reservation.outputTokens);
  const redactor = call.policy.redaction.output
    ? new StreamRedactor(redactionKindsOf(call.policy))
    : undefined;
  const streamed = new StreamedMessage();
  let finish: { finish_reason: FinishReason; usage: ProviderUsage } | undefined;
  let phase: 'streaming' | 'settling' | 'settled' = 'streaming';

  const settleBroken = async (errorCode: string): Promise<void> => {
    phase = 'settled';
    opened.deadline.abort();
    await opened.rest
      .return?.()
      .catch((error: unknown) => failureReporter(deps)('a broken backend stream did not close', error, {}));
    try {
      await settlePartial(deps, call, opened.route, meter.tokens, errorCode);
    } catch (error) {
      deps.log.error('could not settle a broken stream; its reservation stays held', {
        error_name: (error as Error).name,
      });
    }
  };

  try {
    let next: IteratorResult<(typeof opened)['first']> = { done: false, value: opened.first };
    while (next.done !== true) {
      const chunk = next.value;
      opened.deadline.touch();
      if (chunk.type === 'finish') {
        finish = chunk;
        break;
      }
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
      if (meter.exhausted) break;
      next = await opened.rest.next();
    }
    if (finish === undefined && !meter.exhausted) {
      throw new ProviderError('stream_cut', 'the stream ended before it finished');
    }
    if (meter.exhausted) {
      opened.deadline.abort();
      await opened.rest
        .return?.()
        .catch((error: unknown) => failureReporter(deps)('a cut backend stream did not close', error, {}));
    } else {
      opened.deadline.dispose();
    }

    const outputCounts: RedactionCounts = {};
    if (redactor !== undefined) {
      const tail: StreamDelta = { type: 'delta' };
      const rest = redactor.flush();
      addCounts(outputCounts, redactor.counts);
      if (rest !== '') {
        streamed.appendText(rest);
        tail.content = rest;
      }
      for (const partial of streamed.toolCalls()) {
        const redacted = redactStructuredText(partial.arguments, redactionKindsOf(call.policy));
        addCounts(outputCounts, redacted.counts);
        streamed.setToolCallArguments(partial.index, redacted.text);
        (tail.tool_calls ??= []).push({ ...partial, arguments: redacted.text });
      }
      if (tail.content !== undefined || tail.tool_calls !== undefined) yield tail;
    }

    phase = 'settling';
    const usage =
      finish === undefined
        ? { prompt_tokens: call.promptTokens, completion_tokens: meter.tokens }
        : finish.usage;
    const policy =
      redactor === undefined
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
    const stored: StoredCall = {
      request_id: call.input.requestId,
      completion_id: identity.completionId,
      created: identity.created,
      model_ref: call.input.modelRef,
      model: opened.route.model,
      message: streamed.message(),
      finish_reason: finish === undefined ? 'length' : finish.finish_reason,
      usage: { ...usage, cost_nano: actualAmount(call, opened.route.model, usage).nano },
      route: opened.route,
      policy,
    };
    await settleCompleted(deps, call, stored, deps.now().getTime() - call.startedAt.getTime());
    phase = 'settled';
    yield { type: 'done', call: stored };
  } catch (error) {
    if (phase !== 'streaming') throw error;
    const aborted = call.input.signal.aborted;
    await settleBroken(aborted ? 'client_closed' : 'stream_cut');
    if (error instanceof AgentOsError) throw error;
    throw new DependencyUnavailableError('The model backend failed mid-stream', {
      cause: error,
      details: {
        reason: error instanceof ProviderError ? error.kind : 'server_error',
        route: opened.route,
      },
    });
  } finally {
    // The consumer stopped reading (the client went away) while the stream was still running.
    if (phase === 'streaming') await settleBroken('client_closed');
  }
}
