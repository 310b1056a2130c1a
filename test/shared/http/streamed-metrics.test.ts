import { afterEach, describe, expect, it, vi } from 'vitest';
import { MetricUnit } from '@aws-lambda-powertools/metrics';
import { createStreamingLambdaHandler } from '../../../functions/shared/http/lambda-adapter.ts';
import { createTelemetry } from '../../../functions/shared/observability/telemetry.ts';
import type { HttpApp } from '../../../functions/shared/http/http-app.ts';
import type { HttpFront } from '../../../cli/local/lambda-http-front.ts';
import { serveLambda } from '../../support/serve-lambda.ts';
import { installLambdaRuntimeShim } from '../../../cli/local/lambda-runtime-shim.ts';

/** EMF documents written to stdout, parsed (HLD §9.1: metrics reach CloudWatch through EMF). */
function emfDocuments(lines: string[]): Record<string, unknown>[] {
  return lines
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => line.includes('"_aws"'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('streaming Lambda metrics', () => {
  let front: HttpFront | undefined;
  afterEach(async () => {
    vi.restoreAllMocks();
    await front?.close();
    front = undefined;
  });

  it('publishes the metrics a streamed response recorded within the same invocation', async () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    const telemetry = createTelemetry('model-policy');
    vi.unstubAllEnvs();
    const written: string[] = [];
    const write = process.stdout.write.bind(process.stdout);
    vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array, ...rest: never[]) => {
      written.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
      return write(chunk, ...rest);
    }) as typeof process.stdout.write);
    const app: HttpApp = {
      fetch: () =>
        Promise.resolve(
          new Response(
            new ReadableStream<Uint8Array>({
              start(controller) {
                controller.enqueue(new TextEncoder().encode('data: start\n\n'));
              },
              pull(controller) {
                // Recorded once the client has read the first event, as a model call records its
                // tokens when the provider's stream finishes.
                telemetry.metrics.addMetric('ModelTokens', MetricUnit.Count, 42);
                controller.enqueue(new TextEncoder().encode('data: done\n\n'));
                controller.close();
              },
            }),
            { status: 200, headers: { 'content-type': 'text/event-stream' } },
          ),
        ),
    };
    installLambdaRuntimeShim();
    front = await serveLambda({ handler: createStreamingLambdaHandler(app, telemetry) });

    const response = await fetch(`${front.url}/stream`);
    expect(await response.text()).toBe('data: start\n\ndata: done\n\n');

    const streamed = emfDocuments(written).filter((document) => 'ModelTokens' in document);
    expect(streamed).toHaveLength(1);
    expect(streamed[0]!['ModelTokens']).toBe(42);
  });
});
