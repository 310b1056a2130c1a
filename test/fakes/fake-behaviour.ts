import { createHash } from 'node:crypto';
import {
  countTextTokens,
  textWithinTokens,
  toolCallTokens,
} from '../../functions/model-policy/metering/token-estimate.ts';

/**
 * What a fake upstream does with the next request: shared by the fake OpenAI-compatible server and
 * the fake Bedrock server, each of which renders it in its own wire format.
 */

/** A tool call the fake model makes; `arguments` as an object is sent JSON-encoded. */
export type FakeToolCall = { id?: string; name: string; arguments?: Record<string, unknown> | string };

/** Token usage a behaviour reports instead of the fake's own count. */
export type FakeUsage = { prompt_tokens: number; completion_tokens: number };

/** Fields every behaviour may add. */
export type FakeTiming = {
  /** Waits this long before answering; longer than the client's timeout makes the client give up. */
  delayMs?: number;
};

/** One scripted answer of a fake upstream. */
export type FakeBehaviour = FakeTiming &
  (
    | { kind: 'echo' }
    | { kind: 'reply'; text: string; usage?: FakeUsage }
    | { kind: 'tool_calls'; calls: FakeToolCall[]; text?: string; usage?: FakeUsage }
    /** Exactly `max_tokens` tokens (`tok tok …`), finish `length`. */
    | { kind: 'fill' }
    /** An HTTP error with the service's own error body; `type` overrides the error type it names. */
    | { kind: 'error'; status: number; message?: string; type?: string }
    /** A streamed answer cut by destroying the connection after `afterChunks` chunks (default 2). */
    | { kind: 'cut'; afterChunks?: number }
    /** An error reported inside the stream after `afterChunks` chunks; `type` names it (Bedrock). */
    | { kind: 'stream_error'; afterChunks?: number; message?: string; type?: string }
    /** The connection is destroyed before anything is answered. */
    | { kind: 'drop' }
  );

/** A queue of behaviours, one per request, with a default when it is empty. */
export class BehaviourQueue {
  #queue: FakeBehaviour[] = [];
  #fallback: FakeBehaviour;

  constructor(fallback: FakeBehaviour) {
    this.#fallback = fallback;
  }

  enqueue(...behaviours: FakeBehaviour[]): void {
    this.#queue.push(...behaviours);
  }

  /** Drops queued behaviours and, when given, replaces the default. */
  reset(fallback?: FakeBehaviour): void {
    this.#queue = [];
    if (fallback !== undefined) this.#fallback = fallback;
  }

  next(): FakeBehaviour {
    return this.#queue.shift() ?? this.#fallback;
  }
}

/** The answer a behaviour produces, before it is rendered in a wire format. */
export type FakeAnswer = {
  text: string;
  calls: { id: string; name: string; arguments: string }[];
  finish: 'stop' | 'length' | 'tool_calls';
  usage: FakeUsage;
};

/**
 * The answer of a reply, echo, tool-call or fill behaviour, with usage counted as the local provider
 * does (`token-estimate.ts`) and the text cut to `maxTokens` tokens like a real model stops at its
 * limit.
 */
export function fakeAnswer(
  behaviour: Extract<FakeBehaviour, { kind: 'echo' | 'reply' | 'tool_calls' | 'fill' }>,
  context: { lastUserText: string; maxTokens: number; promptTokens: number; callIdPrefix: string },
): FakeAnswer {
  const { maxTokens } = context;
  if (behaviour.kind === 'fill') {
    return answer(Array(maxTokens).fill('tok').join(' '), [], 'length', context.promptTokens);
  }
  if (behaviour.kind === 'tool_calls') {
    const calls = behaviour.calls.map((call, index) => ({
      id: call.id ?? `${context.callIdPrefix}${index}`,
      name: call.name,
      arguments: typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments ?? {}),
    }));
    const result = answer(behaviour.text ?? '', calls, 'tool_calls', context.promptTokens);
    return behaviour.usage === undefined ? result : { ...result, usage: behaviour.usage };
  }
  const text = behaviour.kind === 'echo' ? `echo: ${context.lastUserText}` : behaviour.text;
  const result =
    countTextTokens(text) > maxTokens
      ? answer(textWithinTokens(text, maxTokens), [], 'length', context.promptTokens)
      : answer(text, [], 'stop', context.promptTokens);
  return behaviour.kind === 'reply' && behaviour.usage !== undefined
    ? { ...result, usage: behaviour.usage }
    : result;
}

function answer(
  text: string,
  calls: FakeAnswer['calls'],
  finish: FakeAnswer['finish'],
  promptTokens: number,
): FakeAnswer {
  const callTokens = calls.reduce((sum, call) => sum + toolCallTokens(call.arguments), 0);
  return {
    text,
    calls,
    finish,
    usage: { prompt_tokens: promptTokens, completion_tokens: countTextTokens(text) + callTokens },
  };
}

/** The fakes' prompt token count: a quarter of the bytes of the JSON they were sent, rounded up. */
export function fakePromptTokens(...parts: unknown[]): number {
  return Math.ceil(
    parts.reduce<number>((sum, part) => sum + Buffer.byteLength(JSON.stringify(part ?? null)), 0) / 4,
  );
}

/** Text cut word by word, each piece keeping its trailing space; the pieces join back to the text. */
export function wordPieces(text: string): string[] {
  return text.match(/\s*\S+\s*/g) ?? [];
}

/** Text cut into pieces of at most `size` characters. */
export function slices(text: string, size: number): string[] {
  const pieces: string[] = [];
  for (let start = 0; start < text.length; start += size) pieces.push(text.slice(start, start + size));
  return pieces;
}

/** Resolves after `ms`, or as soon as `cancel` is called; `done` tells whether the wait was cancelled. */
export function cancellableWait(ms: number): { done: Promise<boolean>; cancel: () => void } {
  let cancel = (): void => undefined;
  const done = new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    cancel = () => {
      clearTimeout(timer);
      resolve(true);
    };
  });
  return { done, cancel };
}

/**
 * The vector a fake backend answers for a text: deterministic, unit length, `dimensions` long, and
 * distinct per text (so a test can tell which input a vector belongs to).
 */
export function fakeEmbedding(text: string, dimensions: number): number[] {
  const values: number[] = [];
  let block = Buffer.alloc(0);
  for (let index = 0; values.length < dimensions; index += 1) {
    if (index % 8 === 0)
      block = createHash('sha256')
        .update(`${text}#${index / 8}`)
        .digest();
    values.push(block.readInt32LE((index % 8) * 4) / 2 ** 31);
  }
  const norm = Math.hypot(...values);
  return values.map((value) => value / norm);
}

/** The input tokens a fake backend meters for a text: one per word. */
export function fakeTextTokens(text: string): number {
  return text.split(/\s+/).filter((word) => word !== '').length;
}
