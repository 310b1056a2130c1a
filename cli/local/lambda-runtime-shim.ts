import type { Writable } from 'node:stream';

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
