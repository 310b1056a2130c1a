import { z } from 'zod';
import type { AuthContext } from '../../../shared/auth/auth-context.ts';
import type { MemoryPort } from '../../ports/memory-port.ts';

/** What a built-in tool may use while it runs. */
export type BuiltinToolContext = { auth: AuthContext; memory: MemoryPort; runId: string };

/** A tool implemented inside AgentOS itself. */
export type BuiltinTool = {
  description: string;
  parameters: Record<string, unknown>;
  run(args: unknown, context: BuiltinToolContext): Promise<string>;
};

const TextArgs = z.strictObject({ text: z.string() });
const RememberArgs = z.strictObject({ key: z.string().min(1).max(256), value: z.string() });
const RecallArgs = z.strictObject({ key: z.string().min(1).max(256) });

const textParameters = {
  type: 'object',
  properties: { text: { type: 'string' } },
  required: ['text'],
  additionalProperties: false,
};

/** Agents' memory lives in one namespace per tenant for now. */
const memoryNamespace = 'agents';

/** Tools every node ships; a tenant uses one only once it is registered for that tenant. */
export const builtinTools: Record<string, BuiltinTool> = {
  echo: {
    description: 'Returns the given text unchanged.',
    parameters: textParameters,
    run: async (args) => TextArgs.parse(args).text,
  },
  word_count: {
    description: 'Counts the words in the given text.',
    parameters: textParameters,
    run: async (args) =>
      String(
        TextArgs.parse(args)
          .text.split(/\s+/)
          .filter((w) => w.length > 0).length,
      ),
  },
  remember: {
    description: "Stores a value under a key in the tenant's agent memory.",
    parameters: {
      type: 'object',
      properties: { key: { type: 'string' }, value: { type: 'string' } },
      required: ['key', 'value'],
      additionalProperties: false,
    },
    run: async (args, context) => {
      const { key, value } = RememberArgs.parse(args);
      await context.memory.put(context.auth, memoryNamespace, key, value);
      return `stored ${key}`;
    },
  },
  recall: {
    description: "Returns the value stored under a key in the tenant's agent memory, or an empty string.",
    parameters: {
      type: 'object',
      properties: { key: { type: 'string' } },
      required: ['key'],
      additionalProperties: false,
    },
    run: async (args, context) =>
      (await context.memory.get(context.auth, memoryNamespace, RecallArgs.parse(args).key))?.value ?? '',
  },
};
