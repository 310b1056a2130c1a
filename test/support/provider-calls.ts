import { ProviderError } from '../../functions/model-policy/ports/model-provider-port.ts';
import type { ProviderStreamChunk } from '../../functions/model-policy/ports/model-provider-port.ts';

/** Awaits a provider call that must fail, and returns its ProviderError (anything else fails the test). */
export async function providerFailure(call: Promise<unknown>): Promise<ProviderError> {
  const error = await call.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  if (!(error instanceof ProviderError)) throw new Error(`expected a ProviderError, got ${String(error)}`);
  return error;
}

/** Reads a provider stream to its end. */
export async function drainStream(
  stream: AsyncIterable<ProviderStreamChunk>,
): Promise<ProviderStreamChunk[]> {
  const chunks: ProviderStreamChunk[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}
