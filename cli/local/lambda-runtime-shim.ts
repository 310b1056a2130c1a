import type { Writable } from 'node:stream';
import { AsyncLocalStorage } from 'node:async_hooks';
import { InvokeStoreBase } from '@aws/lambda-invoke-store';

/**
 * The pieces of the Lambda Node.js runtime that handler code touches at module load and while
 * streaming: the `awslambda` global with `streamifyResponse` and `HttpResponseStream.from`. The local
 * node installs them before importing handlers, so the very same handler modules run unchanged.
 */

const streamingHandler = Symbol.for('agentos.local.streamingHandler');

/** Eight NUL bytes: what Lambda writes between the HTTP metadata prelude and the body. */
export const preludeDelimiter = Buffer.alloc(8, 0);

/** A handler that Lambda would invoke with a response stream. */
export type StreamingLambdaHandler = (
  event: unknown,
  responseStream: Writable,
  context: unknown,
) => Promise<unknown>;

type HttpResponseMetadata = {
  statusCode?: number;
  headers?: Record<string, string>;
  multiValueHeaders?: Record<string, string[]>;
  cookies?: string[];
};

/** True when `handler` was wrapped with `awslambda.streamifyResponse`. */
export function isStreamingHandler(handler: unknown): handler is StreamingLambdaHandler {
  return (
    typeof handler === 'function' &&
    (handler as unknown as Record<symbol, unknown>)[streamingHandler] === true
  );
}

/** Installs the `awslambda` global (idempotent). */
export function installLambdaRuntimeShim(): void {
  // Libraries (the AWS invoke store) may already have created the global; add to it, as Lambda's own is shared too.
  const target = globalThis as unknown as { awslambda?: Record<string, unknown> };
  const runtime = (target.awslambda ??= {});
  if (typeof runtime['streamifyResponse'] === 'function') return;
  runtime['streamifyResponse'] = (handler: StreamingLambdaHandler): StreamingLambdaHandler => {
    Object.defineProperty(handler, streamingHandler, { value: true });
    return handler;
  };
  runtime['HttpResponseStream'] = {
    /** As in Lambda: writes the JSON metadata prelude and the delimiter, then the body follows. */
    from(stream: Writable, metadata: HttpResponseMetadata): Writable {
      stream.write(Buffer.concat([Buffer.from(JSON.stringify(metadata)), preludeDelimiter]));
      return stream;
    },
  };
}

/**
 * The variable with which Lambda tells a runtime that one execution environment serves several
 * invocations at once (Lambda Managed Instances); Powertools then keeps per-invocation state, such as
 * a request's log keys, in the invoke store rather than on the shared logger.
 */
const maxConcurrencyVariable = 'AWS_LAMBDA_MAX_CONCURRENCY';

/** How many invocations a local host runs at once, as far as the runtime contract is concerned. */
const localMaxConcurrency = 1024;

/**
 * The runtime's invoke store as Lambda backs it when invocations run concurrently: one context per
 * invocation in an AsyncLocalStorage. Its own class rather than the package's factory, because the
 * AWS SDK asks that factory first (for the X-Ray trace id) and so fixes it to one invocation at a time.
 */
class ConcurrentInvokeStore extends InvokeStoreBase {
  readonly #contexts = new AsyncLocalStorage<Record<string | symbol, unknown>>();

  getContext(): Record<string | symbol, unknown> | undefined {
    return this.#contexts.getStore();
  }

  hasContext(): boolean {
    return this.#contexts.getStore() !== undefined;
  }

  get<T = unknown>(key: string | symbol): T | undefined {
    return this.#contexts.getStore()?.[key] as T | undefined;
  }

  set<T = unknown>(key: string | symbol, value: T): void {
    if (this.isProtectedKey(key))
      throw new Error(`Cannot modify protected Lambda context field: ${String(key)}`);
    const context = this.#contexts.getStore();
    if (context === undefined) throw new Error('No invocation context is active');
    context[key] = value;
  }

  run<T>(context: Record<string | symbol, unknown>, fn: () => T): T {
    return this.#contexts.run(context, fn);
  }
}

let invokeStore: ConcurrentInvokeStore | undefined;

/**
 * Installs the runtime's invoke store for concurrent invocations (idempotent). A local node serves
 * many requests in one process at once, as a Lambda environment with several concurrent invocations
 * does, so each invocation must see its own log keys (tenant, correlation and trace ids): without
 * this a line could carry another request's keys, or lose its own to another request's reset.
 */
export function installInvokeStore(): void {
  if (invokeStore !== undefined) return;
  const store = new ConcurrentInvokeStore();
  const target = globalThis as unknown as { awslambda?: Record<string, unknown> };
  (target.awslambda ??= {})['InvokeStore'] = store;
  invokeStore = store;
  // Set only once the store exists: Powertools refuses the variable without a store.
  process.env[maxConcurrencyVariable] ??= String(localMaxConcurrency);
}

/**
 * Runs one invocation in its own invoke-store context, as the Lambda runtime does, so per-invocation
 * state stays with it across every await. Without an installed store it just runs `fn`.
 */
export function inInvocation<T>(requestId: string, fn: () => T): T {
  if (invokeStore === undefined) return fn();
  return invokeStore.run({ [InvokeStoreBase.PROTECTED_KEYS.REQUEST_ID]: requestId }, fn);
}
