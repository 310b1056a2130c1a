import { z } from 'zod';

/** A tool implemented inside AgentOS itself. */
export type BuiltinTool = {
  description: string;
  parameters: Record<string, unknown>;
  run(args: unknown): string;
};

const EchoArgs = z.strictObject({ text: z.string() });
const WordCountArgs = z.strictObject({ text: z.string() });

/** Tools every node ships; a tenant uses one only once it is registered for that tenant. */
export const builtinTools: Record<string, BuiltinTool> = {
  echo: {
    description: 'Returns the given text unchanged.',
    parameters: {
      type: 'object',
      properties: { text: { type: 'string' } },
      required: ['text'],
      additionalProperties: false,
    },
    run: (args) => EchoArgs.parse(args).text,
  },
  word_count: {
    description: 'Counts the words in the given text.',
    parameters: {
      type: 'object',
      properties: { text: { type: 'string' } },
      required: ['text'],
      additionalProperties: false,
    },
    run: (args) =>
      String(
        WordCountArgs.parse(args)
          .text.split(/\s+/)
          .filter((w) => w.length > 0).length,
      ),
  },
};
