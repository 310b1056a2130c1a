import { BedrockProvider } from '../../functions/model-policy/providers/bedrock-provider.ts';
import { LocalModelProvider } from '../../functions/model-policy/providers/local-provider.ts';
import type { LocalTurn } from '../../functions/model-policy/providers/local-provider.ts';
import { OpenAiCompatibleProvider } from '../../functions/model-policy/providers/openai-compatible-provider.ts';
import type { ConformanceBehaviour, ProviderHarness } from '../conformance/model-provider.case.ts';
import type { FakeBehaviour } from './fake-behaviour.ts';
import { startFakeBedrockServer } from './fake-bedrock-server.ts';
import { startFakeOpenAiServer } from './fake-openai-server.ts';

/**
 * Harnesses of the ModelProvider conformance suite: each real adapter wired to a programmable
 * backend (a wire-level fake, or the local provider's programmatic script).
 */

/** Far longer than any test waits, so the caller's abort signal fires first. */
const neverInTime = 60_000;

/** The local provider, driven by its programmatic script. */
export async function localProviderHarness(): Promise<ProviderHarness> {
  const turns: LocalTurn[] = [];
  const provider = new LocalModelProvider({ script: () => turns.shift() });
  return {
    provider,
    model: 'scripted',
    program: (...behaviours) => {
      turns.length = 0;
      turns.push(...behaviours.map(localTurn));
    },
    close: async () => undefined,
  };
}

function localTurn(behaviour: ConformanceBehaviour): LocalTurn {
  if ('reply' in behaviour) return { reply: behaviour.reply };
  if ('toolCall' in behaviour) return { tool_calls: [behaviour.toolCall] };
  if ('fill' in behaviour) return { fill: true };
  if (behaviour.failure === 'timeout') return { reply: 'too late', delay_ms: neverInTime };
  return { error: behaviour.failure };
}

/** The OpenAI-compatible adapter against the fake OpenAI server, with an API key. */
export async function openAiCompatibleHarness(): Promise<ProviderHarness> {
  const fake = await startFakeOpenAiServer({ apiKey: 'sk-fake-conformance' });
  const provider = new OpenAiCompatibleProvider({ baseUrl: fake.url, apiKey: 'sk-fake-conformance' });
  return {
    provider,
    model: 'gpt-4o-mini',
    program: (...behaviours) => {
      fake.reset();
      fake.enqueue(...behaviours.map(fakeBehaviour));
    },
    close: () => fake.close(),
  };
}

/** The Bedrock adapter, through the real SDK, against the fake Bedrock Runtime with dummy credentials. */
export async function bedrockHarness(): Promise<ProviderHarness> {
  const fake = await startFakeBedrockServer();
  const provider = new BedrockProvider({
    region: 'us-east-1',
    endpoint: fake.url,
    credentials: { accessKeyId: 'AKIDFAKE', secretAccessKey: 'fake-secret' },
  });
  return {
    provider,
    model: 'anthropic.claude-3-haiku-20240307-v1:0',
    program: (...behaviours) => {
      fake.reset();
      fake.enqueue(...behaviours.map(fakeBehaviour));
    },
    close: () => fake.close(),
  };
}

/** The fake upstream behaviour that produces a conformance behaviour. */
export function fakeBehaviour(behaviour: ConformanceBehaviour): FakeBehaviour {
  if ('reply' in behaviour) return { kind: 'reply', text: behaviour.reply };
  if ('toolCall' in behaviour) return { kind: 'tool_calls', calls: [behaviour.toolCall] };
  if ('fill' in behaviour) return { kind: 'fill' };
  switch (behaviour.failure) {
    case 'rate_limited':
      return { kind: 'error', status: 429 };
    case 'server_error':
      return { kind: 'error', status: 500 };
    case 'invalid_request':
      return { kind: 'error', status: 400 };
    case 'timeout':
      return { kind: 'echo', delayMs: neverInTime };
    case 'stream_cut':
      return { kind: 'cut', afterChunks: 2 };
  }
}
