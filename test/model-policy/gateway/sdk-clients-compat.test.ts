import { createOpenAI } from '@ai-sdk/openai';
import type { OpenAIProvider } from '@ai-sdk/openai';
import { ChatOpenAI } from '@langchain/openai';
import { Output, embed, embedMany, generateObject, generateText, stepCountIs, streamText, tool } from 'ai';
import type { LanguageModel, ModelMessage } from 'ai';
import { z } from 'zod';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpFront } from '../../../cli/local/lambda-http-front.ts';
import { scriptPrompt, serveModelPolicy } from '../../support/model-policy-front.ts';

/**
 * The Vercel AI SDK and LangChain JS, unchanged, against a local node: each over the Responses API
 * (`POST /v1/responses`) and the chat completion API, plain, with tools and with structured output,
 * streamed and not.
 */

let front: HttpFront;
let token: string;
let provider: OpenAIProvider;

beforeAll(async () => {
  const served = await serveModelPolicy('sdks');
  front = served.front;
  const { auth } = served;
  token = await auth.token('acme');
  provider = createOpenAI({ baseURL: `${front.url}/v1`, apiKey: token });
});

afterAll(async () => {
  await front.close();
});

const City = z.object({ name: z.string(), population: z.number().int() });

/** The Vercel AI SDK's two OpenAI model kinds: the Responses API (its default) and chat completions. */
const vercelModels: [string, (id: string) => LanguageModel][] = [
  ['openai(model), the Responses API', (id) => provider(id)],
  ['openai.chat(model)', (id) => provider.chat(id)],
];

describe.each(vercelModels)('the Vercel AI SDK with %s', (_, model) => {
  it('returns text from generateText', async () => {
    const result = await generateText({ model: model('local/echo'), prompt: 'hello there', maxRetries: 0 });
    expect(result.text).toBe('echo: hello there');
    expect(result.usage.outputTokens).toBe(5);
  });

  it('streams text from streamText', async () => {
    const result = streamText({ model: model('local/echo'), prompt: 'one two three', maxRetries: 0 });
    const pieces: string[] = [];
    for await (const piece of result.textStream) pieces.push(piece);
    expect(pieces.join('')).toBe('echo: one two three');
    expect((await result.usage).outputTokens).toBe(5);
  });

  it('returns the answer after running a tool the model called', async () => {
    const looked: string[] = [];
    const result = await generateText({
      model: model('local/scripted'),
      system: scriptPrompt({ tool_calls: [{ name: 'lookup', arguments: { q: 'x' } }] }, { reply: 'found x' }),
      prompt: 'find x',
      tools: {
        lookup: tool({
          description: 'Looks a word up.',
          inputSchema: z.object({ q: z.string() }),
          execute: ({ q }) => {
            looked.push(q);
            return Promise.resolve({ definition: 'a letter' });
          },
        }),
      },
      stopWhen: stepCountIs(2),
      maxRetries: 0,
    });
    expect(looked).toEqual(['x']);
    expect(result.text).toBe('found x');
    expect(result.steps).toHaveLength(2);
  });

  it('returns an object from generateText with Output.object', async () => {
    const result = await generateText({
      model: model('local/echo'),
      prompt: 'a city',
      output: Output.object({ schema: City }),
      maxRetries: 0,
    });
    expect(City.parse(result.output)).toEqual(result.output);
  });

  it('streams an object from streamText with Output.object', async () => {
    const result = streamText({
      model: model('local/echo'),
      prompt: 'a city',
      output: Output.object({ schema: City }),
      maxRetries: 0,
    });
    const output = await result.output;
    expect(City.parse(output)).toEqual(output);
  });

  it('returns an object from generateObject', async () => {
    const result = await generateObject({
      model: model('local/echo'),
      prompt: 'a city',
      schema: City,
      maxRetries: 0,
    });
    expect(City.parse(result.object)).toEqual(result.object);
  });
});

describe('the Vercel AI SDK’s embeddings', () => {
  it('returns one vector from embed and one per value from embedMany, similar texts closer', async () => {
    const model = provider.embedding('local/embed-small');
    const { embedding, usage } = await embed({ model, value: 'the cat sat on the mat', maxRetries: 0 });
    expect(embedding).toHaveLength(256);
    expect(usage.tokens).toBeGreaterThan(0);
    const { embeddings } = await embedMany({
      model,
      values: ['the cat sat on the mat', 'a cat sat on a mat', 'quarterly revenue grew'],
      maxRetries: 0,
    });
    expect(embeddings).toHaveLength(3);
    const dot = (a: number[], b: number[]) => a.reduce((sum, value, index) => sum + value * b[index]!, 0);
    expect(embeddings[0]).toEqual(embedding);
    expect(dot(embeddings[0]!, embeddings[1]!)).toBeGreaterThan(dot(embeddings[0]!, embeddings[2]!));
  });
});

describe('the Vercel AI SDK on the Responses API, in a conversation', () => {
  it('throws when earlier answers are sent as item references, naming item_reference and the store: false remedy', async () => {
    const first = await generateText({ model: provider('local/echo'), prompt: 'hi', maxRetries: 0 });
    const messages: ModelMessage[] = [
      { role: 'user', content: 'hi' },
      ...first.response.messages,
      { role: 'user', content: 'again' },
    ];
    await expect(generateText({ model: provider('local/echo'), messages, maxRetries: 0 })).rejects.toThrow(
      /item_reference.*store: false/,
    );
    const second = await generateText({
      model: provider('local/echo'),
      messages,
      providerOptions: { openai: { store: false } },
      maxRetries: 0,
    });
    expect(second.text).toBe('echo: again');
  });
});

describe.each([false, true])('LangChain ChatOpenAI, useResponsesApi %s', (useResponsesApi) => {
  // Not `streaming: true`: on the chat completion path LangChain then counts tokens with an encoding it
  // downloads, which a machine without network waits on; `.stream()` streams all the same.
  function chat(modelName: string): ChatOpenAI {
    return new ChatOpenAI({
      model: modelName,
      apiKey: token,
      configuration: { baseURL: `${front.url}/v1` },
      maxRetries: 0,
      useResponsesApi,
    });
  }

  it('returns an answer from invoke', async () => {
    const answer = await chat('local/echo').invoke('hello there');
    expect(answer.text).toBe('echo: hello there');
    expect(answer.usage_metadata?.output_tokens).toBe(5);
  });

  it('streams an answer from stream', async () => {
    const pieces: string[] = [];
    for await (const chunk of await chat('local/echo').stream('one two three')) pieces.push(chunk.text);
    expect(pieces.length).toBeGreaterThan(1);
    expect(pieces.join('')).toBe('echo: one two three');
  });

  it('returns a tool call from a model bound to tools', async () => {
    const model = chat('local/scripted').bindTools([
      {
        type: 'function',
        function: {
          name: 'lookup',
          description: 'Looks a word up.',
          parameters: { type: 'object', properties: { q: { type: 'string' } }, required: ['q'] },
        },
      },
    ]);
    const answer = await model.invoke([
      ['system', scriptPrompt({ tool_calls: [{ name: 'lookup', arguments: { q: 'x' } }] })],
      ['user', 'find x'],
    ]);
    expect(answer.tool_calls).toEqual([expect.objectContaining({ name: 'lookup', args: { q: 'x' } })]);
  });

  it('returns an object from withStructuredOutput', async () => {
    const city = await chat('local/echo').withStructuredOutput(City).invoke('a city');
    expect(City.parse(city)).toEqual(city);
  });

  it('streams an object from withStructuredOutput', async () => {
    const values: unknown[] = [];
    for await (const value of await chat('local/echo').withStructuredOutput(City).stream('a city')) {
      values.push(value);
    }
    expect(City.parse(values.at(-1))).toEqual(values.at(-1));
  });
});
