import { InvalidRequestError } from '../../shared/errors/agentos-error.ts';
import type { RouteHandler, RouteResult } from '../../shared/http/bound-route.ts';
import { unpackVector } from '../invocation/embedding-vectors.ts';
import type { ModelCallInput } from '../invocation/model-call.ts';
import type { ModelGateway } from '../invocation/model-gateway.ts';
import { maxEmbeddingInputs } from '../schemas/openai-embeddings.ts';
import type { EmbeddingList, EmbeddingRequest } from '../schemas/openai-embeddings.ts';
import type { StoredCall } from '../schemas/stored-call.ts';
import type { createEmbedding } from './model-policy-api.ts';
import { callBasis, completedAnswer } from './gateway-call.ts';
import { requestIdFrom } from './request-id.ts';

/**
 * The texts of a request. Token arrays are refused: the gateway meters, redacts and applies deny
 * rules to text, and token ids mean nothing outside the tokenizer of one model.
 *
 * @throws InvalidRequestError naming `input` for token arrays, or for more texts than one call takes
 */
export function embeddingTexts(input: EmbeddingRequest['input']): string[] {
  if (typeof input === 'string') return [input];
  const texts = input.filter((item): item is string => typeof item === 'string');
  if (texts.length !== input.length) {
    throw new InvalidRequestError('Token-array input is not supported; send the text to embed', [
      { field: 'input', message: 'a string or an array of strings' },
    ]);
  }
  if (texts.length > maxEmbeddingInputs) {
    throw new InvalidRequestError(`At most ${maxEmbeddingInputs} texts can be embedded in one request`, [
      { field: 'input', message: `at most ${maxEmbeddingInputs} items` },
    ]);
  }
  return texts;
}

/** The OpenAI embeddings list of a stored call, its vectors as numbers or as base64. */
export function embeddingListOf(call: StoredCall, format: 'float' | 'base64'): EmbeddingList {
  return {
    object: 'list',
    data: (call.embeddings ?? []).map((packed, index) => ({
      object: 'embedding',
      index,
      embedding: format === 'base64' ? packed : unpackVector(packed),
    })),
    model: call.model,
    usage: { prompt_tokens: call.usage.prompt_tokens, total_tokens: call.usage.prompt_tokens },
  };
}

/**
 * `POST /v1/embeddings` (scope `models:invoke`): the OpenAI-compatible form. `X-Request-Id` names the
 * request for dedupe as on chat; its fingerprint leaves `encoding_format` out, since a replay renders
 * the same stored vectors in either form.
 */
export function embeddingsHandler(gateway: ModelGateway): RouteHandler<typeof createEmbedding> {
  return async (request): Promise<RouteResult> => {
    const { body } = request;
    const requestId = requestIdFrom(request.headers);
    const texts = embeddingTexts(body.input);
    const { encoding_format: format = 'float', ...meaning } = body;
    const input: ModelCallInput = {
      ...callBasis(request, 'embeddings', { modelRef: body.model, requestId, meaning }),
      stream: false,
      messages: texts.map((text) => ({ role: 'user', content: text })),
      embedding: {
        ...(body.dimensions === undefined ? {} : { dimensions: body.dimensions }),
        ...(body.user === undefined ? {} : { user: body.user }),
      },
    };
    const outcome = await gateway.embed(input);
    return completedAnswer(requestId, outcome, embeddingListOf(outcome.call, format));
  };
}
