import type { FailureReporter } from '../../shared/observability/failure-reporter.ts';
import type { ModelRoute, RouteHop } from '../../shared/contracts/model-invocation.ts';
import { ProviderError } from '../ports/model-provider-port.ts';
import { checkStructuredOutput } from '../invocation/response-format.ts';
import type {
  EmbeddingProviderRequest,
  EmbeddingProviderResult,
  ModelProvider,
  ProviderRequest,
  ProviderResult,
  ProviderStreamChunk,
} from '../ports/model-provider-port.ts';
import { IdleDeadline } from './idle-deadline.ts';
import type { ProviderRegistry } from './provider-registry.ts';
import type { RouteTarget } from './route-plan.ts';
import { asProviderError, RouteFailure } from './route-failure.ts';

/** A call to route: the request without the backend model and signal, which each hop sets. */
export type RoutedCall = {
  modelRef: string;
  targets: readonly RouteTarget[];
  request: Omit<ProviderRequest, 'model' | 'signal'>;
  /** Aborts the whole route (client gone, overall deadline). */
  signal: AbortSignal;
  /** Logs and counts a failed cleanup of a backend that already failed. */
  reportFailure: FailureReporter;
  /** Epoch milliseconds, for hop latencies; the gateway's clock (tests inject one). */
  now: () => number;
};

/** A route that answered. */
export type RoutedResult = {
  result: ProviderResult;
  target: RouteTarget;
  route: ModelRoute;
  latencyMs: number;
};

/** A stream that started: its first chunk has arrived, so the route is decided. */
export type RoutedStream = {
  first: ProviderStreamChunk;
  rest: AsyncIterator<ProviderStreamChunk>;
  target: RouteTarget;
  route: ModelRoute;
  /** The hop's idle deadline: touch it per chunk; abort it to stop the backend. */
  deadline: IdleDeadline;
  startedAt: number;
};

function fallbackHop(
  target: RouteTarget,
  error: ReturnType<typeof asProviderError>,
  startedAt: number,
  now: number,
): RouteHop {
  return {
    provider: target.backendId,
    model: target.modelRef,
    outcome: 'fallback',
    reason: error.kind,
    ...(error.status === undefined ? {} : { status: error.status }),
    latency_ms: now - startedAt,
  };
}

function okRoute(
  call: Pick<RoutedCall, 'modelRef' | 'now'>,
  target: RouteTarget,
  hops: RouteHop[],
  startedAt: number,
): ModelRoute {
  return {
    model_ref: call.modelRef,
    provider: target.backendId,
    model: target.modelRef,
    hops: [
      ...hops,
      {
        provider: target.backendId,
        model: target.modelRef,
        outcome: 'ok',
        latency_ms: call.now() - startedAt,
      },
    ],
  };
}

/** What routing a call needs whatever it asks of the backends. */
type ChainCall = Pick<RoutedCall, 'modelRef' | 'targets' | 'signal' | 'now'>;

/**
 * Asks the chain's backends in order until one answers (HLD §3.2 router): on 429, 5xx, timeouts, connection
 * errors, auth failures at the backend and cut streams it moves on; on a 4xx caused by the request
 * it stops, since every backend would refuse it alike. Each hop has its backend's timeout.
 */
async function firstAnswer<T>(
  providers: ProviderRegistry,
  call: ChainCall,
  ask: (provider: ModelProvider, target: RouteTarget, signal: AbortSignal) => Promise<T>,
): Promise<{ result: T; target: RouteTarget; route: ModelRoute; latencyMs: number }> {
  const hops: RouteHop[] = [];
  const began = call.now();
  let lastError: ReturnType<typeof asProviderError> | undefined;
  for (const target of call.targets) {
    if (call.signal.aborted) throw new RouteFailure(hops, lastError, true);
    const startedAt = call.now();
    const signal = AbortSignal.any([call.signal, AbortSignal.timeout(target.timeoutMs)]);
    try {
      const provider = await providers.providerFor(target.backendId);
      const result = await ask(provider, target, signal);
      return { result, target, route: okRoute(call, target, hops, startedAt), latencyMs: call.now() - began };
    } catch (error) {
      lastError = asProviderError(error, signal);
      hops.push(fallbackHop(target, lastError, startedAt, call.now()));
      if (call.signal.aborted) throw new RouteFailure(hops, lastError, true);
      if (!lastError.fallbackEligible) break;
    }
  }
  throw new RouteFailure(hops, lastError, false);
}

/**
 * Calls the chain's backends in order until one completes, falling back as {@link firstAnswer} says.
 *
 * @throws RouteFailure with every hop when none answered.
 */
export function completeWithFallback(providers: ProviderRegistry, call: RoutedCall): Promise<RoutedResult> {
  return firstAnswer(providers, call, async (provider, target, signal) => {
    const result = await provider.complete({ ...call.request, model: target.backendModel, signal });
    if (result.finish_reason !== 'length')
      await checkStructuredOutput(
        call.request.response_format,
        result.message.content,
        (result.message.tool_calls ?? []).length > 0,
      );
    return result;
  });
}

/** An embeddings call to route: the request without the backend model and signal, which each hop sets. */
export type RoutedEmbeddingCall = ChainCall & {
  request: Omit<EmbeddingProviderRequest, 'model' | 'signal'>;
};

/** An embeddings route that answered. */
export type RoutedEmbeddings = {
  result: EmbeddingProviderResult;
  target: RouteTarget;
  route: ModelRoute;
  latencyMs: number;
};

/**
 * Embeds on the chain's backends in order until one answers, falling back as chat calls do; a
 * backend without embeddings counts as not serving the model. A model is asked for `dimensions`
 * only when it differs from the model's own length (a model that cannot shorten its vectors may
 * refuse the parameter), and its answer must hold one vector of the expected length per input:
 * anything else is a backend fault, never passed on or stored.
 *
 * @throws RouteFailure with every hop when none answered.
 */
export function embedWithFallback(
  providers: ProviderRegistry,
  call: RoutedEmbeddingCall,
): Promise<RoutedEmbeddings> {
  return firstAnswer(providers, call, async (provider, target, signal) => {
    if (provider.embed === undefined) {
      throw new ProviderError('model_unavailable', `backend ${target.backendId} serves no embeddings`);
    }
    const { dimensions, ...request } = call.request;
    const result = await provider.embed({
      ...request,
      ...(dimensions === undefined || dimensions === target.dimensions ? {} : { dimensions }),
      model: target.backendModel,
      signal,
    });
    const expected = dimensions ?? target.dimensions;
    if (
      result.embeddings.length !== request.input.length ||
      result.embeddings.some((vector) => vector.length !== expected)
    ) {
      throw new ProviderError(
        'server_error',
        `backend ${target.backendId} did not answer one ${expected}-number vector per input`,
      );
    }
    return result;
  });
}

/**
 * Opens a stream on the first backend of the chain that produces a first chunk. Fallback happens only
 * before that chunk, so only before anything could have been sent to the client; a failure after it
 * belongs to the caller. The backend's timeout bounds each wait for a chunk.
 *
 * @throws RouteFailure with every hop when no backend started streaming.
 */
export async function openStreamWithFallback(
  providers: ProviderRegistry,
  call: RoutedCall,
): Promise<RoutedStream> {
  const hops: RouteHop[] = [];
  let lastError: ReturnType<typeof asProviderError> | undefined;
  for (const target of call.targets) {
    if (call.signal.aborted) throw new RouteFailure(hops, lastError, true);
    const startedAt = call.now();
    const deadline = new IdleDeadline(target.timeoutMs, call.signal);
    let iterator: AsyncIterator<ProviderStreamChunk> | undefined;
    try {
      const provider = await providers.providerFor(target.backendId);
      const stream = provider.stream({
        ...call.request,
        model: target.backendModel,
        signal: deadline.signal,
      });
      iterator = stream[Symbol.asyncIterator]();
      const first = await iterator.next();
      if (first.done === true) throw new ProviderError('stream_cut', 'the stream ended before it began');
      deadline.touch();
      return {
        first: first.value,
        rest: iterator,
        target,
        route: okRoute(call, target, hops, startedAt),
        deadline,
        startedAt,
      };
    } catch (error) {
      lastError = asProviderError(error, deadline.signal);
      deadline.abort();
      await iterator
        ?.return?.()
        .catch((error: unknown) =>
          call.reportFailure('a failed backend stream did not close', error, { backend: target.backendId }),
        );
      hops.push(fallbackHop(target, lastError, startedAt, call.now()));
      if (call.signal.aborted) throw new RouteFailure(hops, lastError, true);
      if (!lastError.fallbackEligible) break;
    }
  }
  throw new RouteFailure(hops, lastError, false);
}
