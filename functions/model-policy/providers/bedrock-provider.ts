import {
  BedrockRuntimeClient,
  ConverseCommand,
  ConverseStreamCommand,
  InvokeModelCommand,
} from '@aws-sdk/client-bedrock-runtime';
import { z } from 'zod';
import type { BedrockRuntimeClientConfig } from '@aws-sdk/client-bedrock-runtime';
import { bedrockFailure } from './bedrock-failure.ts';
import {
  ConverseStreamEventSchema,
  converseInput,
  converseResult,
  finishReasonOf,
  structuredAnswerTool,
} from './bedrock-mapping.ts';
import { ProviderError } from '../ports/model-provider-port.ts';
import type {
  EmbeddingProviderRequest,
  EmbeddingProviderResult,
  ModelProvider,
  ProviderRequest,
  ProviderResult,
  ProviderStreamChunk,
  ProviderUsage,
} from '../ports/model-provider-port.ts';

/** What Titan Text Embeddings v2 answers to InvokeModel (not strict: the service adds fields). */
const TitanEmbeddingSchema = z.object({
  embedding: z.array(z.number()).min(1),
  inputTextTokenCount: z.number().int().nonnegative(),
});

/** InvokeModel calls of one embeddings request in flight at once: a few, to keep within the account's rate. */
const titanConcurrency = 4;

/** Options of {@link BedrockProvider}. */
export type BedrockProviderOptions = {
  region?: string;
  /** Another endpoint than the region's Bedrock Runtime (a VPC endpoint, or a fake in tests). */
  endpoint?: string;
  /** Resolved by the caller from configuration; the SDK's default chain (the Lambda role) otherwise. */
  credentials?: BedrockRuntimeClientConfig['credentials'];
  /**
   * SDK attempts per call; 1 by default, because the router falls back to the next backend instead
   * of retrying a throttled or failing one within the caller's timeout.
   */
  maxAttempts?: number;
  /** A ready client, instead of one built from the options above. */
  client?: BedrockRuntimeClient;
};

/**
 * Amazon Bedrock through the Converse and ConverseStream APIs (kind `bedrock`), and embeddings through
 * InvokeModel with the Titan Text Embeddings v2 body. The mapping of
 * messages, tools and stop reasons is in `bedrock-mapping.ts`; the per-call timeout is the request's
 * abort signal.
 */
export class BedrockProvider implements ModelProvider {
  readonly kind = 'bedrock';
  readonly #client: BedrockRuntimeClient;
  /** Whether the client is this provider's own, to destroy on close (a given one belongs to its giver). */
  readonly #ownsClient: boolean;

  constructor(options: BedrockProviderOptions = {}) {
    this.#ownsClient = options.client === undefined;
    this.#client =
      options.client ??
      new BedrockRuntimeClient({
        maxAttempts: options.maxAttempts ?? 1,
        ...(options.region !== undefined ? { region: options.region } : {}),
        ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
        ...(options.credentials !== undefined ? { credentials: options.credentials } : {}),
      });
  }

  close(): void {
    if (this.#ownsClient) this.#client.destroy();
  }

  async complete(request: ProviderRequest): Promise<ProviderResult> {
    const input = { modelId: request.model, ...converseInput(request) };
    try {
      const output = await this.#client.send(new ConverseCommand(input), { abortSignal: request.signal });
      return converseResult(output, structuredAnswerTool(request));
    } catch (error) {
      throw bedrockFailure(error, request.signal, false);
    }
  }

  /**
   * Embeds with a Titan Text Embeddings model (`amazon.titan-embed-text-v2:0`): InvokeModel takes one
   * text per call, so the inputs are embedded a few at a time (in input order) under the request's
   * one signal, normalised to unit length as OpenAI's vectors are. The first failure fails the call.
   */
  async embed(request: EmbeddingProviderRequest): Promise<EmbeddingProviderResult> {
    const embeddings: number[][] = new Array<number[]>(request.input.length);
    const tokens: number[] = new Array<number>(request.input.length).fill(0);
    let next = 0;
    let failed = false;
    const worker = async (): Promise<void> => {
      // After a failure no worker starts another input: the call has failed already.
      while (next < request.input.length && !failed && !request.signal.aborted) {
        const index = next;
        next += 1;
        try {
          const answer = await this.#embedOne(request, request.input[index]!);
          embeddings[index] = answer.embedding;
          tokens[index] = answer.inputTextTokenCount;
        } catch (error) {
          failed = true;
          throw error;
        }
      }
    };
    const workers = Array.from({ length: Math.min(titanConcurrency, request.input.length) }, worker);
    const settled = await Promise.allSettled(workers);
    const failure = settled.find((outcome) => outcome.status === 'rejected');
    if (failure !== undefined) throw failure.reason;
    if (request.signal.aborted) throw bedrockFailure(request.signal.reason, request.signal, false);
    return { embeddings, usage: { prompt_tokens: tokens.reduce((sum, count) => sum + count, 0) } };
  }

  async #embedOne(
    request: EmbeddingProviderRequest,
    text: string,
  ): Promise<{ embedding: number[]; inputTextTokenCount: number }> {
    const body = {
      inputText: text,
      normalize: true,
      ...(request.dimensions === undefined ? {} : { dimensions: request.dimensions }),
    };
    let raw: Uint8Array;
    try {
      const output = await this.#client.send(
        new InvokeModelCommand({
          modelId: request.model,
          contentType: 'application/json',
          accept: 'application/json',
          body: JSON.stringify(body),
        }),
        { abortSignal: request.signal },
      );
      raw = output.body;
    } catch (error) {
      throw bedrockFailure(error, request.signal, false);
    }
    let parsed: ReturnType<typeof TitanEmbeddingSchema.safeParse>;
    try {
      parsed = TitanEmbeddingSchema.safeParse(JSON.parse(Buffer.from(raw).toString('utf8')));
    } catch (error) {
      throw new ProviderError('server_error', 'bedrock: InvokeModel answered with a body that is not JSON', {
        cause: error,
      });
    }
    if (!parsed.success) {
      throw new ProviderError('server_error', 'bedrock: unexpected InvokeModel embedding body', {
        cause: parsed.error,
      });
    }
    return parsed.data;
  }

  async *stream(request: ProviderRequest): AsyncIterable<ProviderStreamChunk> {
    const input = { modelId: request.model, ...converseInput(request) };
    let events: AsyncIterable<unknown>;
    try {
      const output = await this.#client.send(new ConverseStreamCommand(input), {
        abortSignal: request.signal,
      });
      if (output.stream === undefined)
        throw new ProviderError('server_error', 'bedrock: ConverseStream returned no stream');
      events = output.stream;
    } catch (error) {
      throw bedrockFailure(error, request.signal, false);
    }
    // Converse numbers all content blocks; OpenAI-style deltas number tool calls only.
    const toolIndexOfBlock = new Map<number, number>();
    const blocksWithArguments = new Set<number>();
    // Structured output arrives as the forced answer tool's input: it is relayed as content.
    const answerTool = structuredAnswerTool(request);
    const answerBlocks = new Set<number>();
    let stopReason: string | undefined;
    let usage: ProviderUsage | undefined;
    try {
      for await (const raw of events) {
        const event = ConverseStreamEventSchema.safeParse(raw);
        if (!event.success) {
          throw new ProviderError('server_error', 'bedrock: unexpected ConverseStream event', {
            cause: event.error,
          });
        }
        const { contentBlockStart, contentBlockDelta, contentBlockStop, messageStop, metadata } = event.data;
        const toolUse = contentBlockStart?.start?.toolUse;
        if (contentBlockStart !== undefined && toolUse !== undefined && toolUse.name === answerTool) {
          answerBlocks.add(contentBlockStart.contentBlockIndex);
        } else if (contentBlockStart !== undefined && toolUse !== undefined) {
          const index = toolIndexOfBlock.size;
          toolIndexOfBlock.set(contentBlockStart.contentBlockIndex, index);
          yield {
            type: 'delta',
            tool_calls: [{ index, id: toolUse.toolUseId, name: toolUse.name, arguments: '' }],
          };
        }
        if (contentBlockDelta !== undefined) {
          const { text, toolUse: toolDelta } = contentBlockDelta.delta;
          if (text !== undefined && text !== '') yield { type: 'delta', content: text };
          if (toolDelta !== undefined && answerBlocks.has(contentBlockDelta.contentBlockIndex)) {
            if (toolDelta.input !== '') {
              blocksWithArguments.add(contentBlockDelta.contentBlockIndex);
              yield { type: 'delta', content: toolDelta.input };
            }
          } else if (toolDelta !== undefined && toolDelta.input !== '') {
            const index = toolIndexOfBlock.get(contentBlockDelta.contentBlockIndex);
            if (index === undefined) {
              throw new ProviderError(
                'server_error',
                'bedrock: tool input streamed for a block that never started',
              );
            }
            blocksWithArguments.add(contentBlockDelta.contentBlockIndex);
            yield { type: 'delta', tool_calls: [{ index, arguments: toolDelta.input }] };
          }
        }
        if (contentBlockStop !== undefined) {
          const block = contentBlockStop.contentBlockIndex;
          if (answerBlocks.has(block) && !blocksWithArguments.has(block))
            yield { type: 'delta', content: '{}' };
          const index = toolIndexOfBlock.get(block);
          // A tool without parameters streams no input; OpenAI clients expect the JSON `{}`.
          if (index !== undefined && !blocksWithArguments.has(block)) {
            yield { type: 'delta', tool_calls: [{ index, arguments: '{}' }] };
          }
        }
        if (messageStop !== undefined) stopReason = messageStop.stopReason;
        if (metadata !== undefined) {
          usage = {
            prompt_tokens: metadata.usage.inputTokens,
            completion_tokens: metadata.usage.outputTokens,
          };
        }
      }
    } catch (error) {
      throw bedrockFailure(error, request.signal, true);
    }
    if (stopReason === undefined || usage === undefined) {
      throw new ProviderError('stream_cut', 'bedrock: the stream ended before its stop and usage events');
    }
    const answered = answerBlocks.size > 0 && toolIndexOfBlock.size === 0 && stopReason === 'tool_use';
    yield { type: 'finish', finish_reason: answered ? 'stop' : finishReasonOf(stopReason), usage };
  }
}
