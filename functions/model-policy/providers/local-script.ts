import { z } from 'zod';
import { contentText } from '../../shared/contracts/chat.ts';
import type { ChatMessage } from '../../shared/contracts/chat.ts';
import { ProviderError } from '../ports/model-provider-port.ts';

/**
 * The script language of the local provider's `scripted` model: one turn per model call, chosen by
 * how many assistant messages the conversation already holds.
 */

const delay = { delay_ms: z.number().int().min(0).max(600_000).optional() };

const ReplyTurnSchema = z.strictObject({ reply: z.string(), ...delay });

const ToolCallsTurnSchema = z.strictObject({
  tool_calls: z
    .array(
      z.strictObject({
        name: z.string().min(1).max(128),
        /** An object is sent JSON-stringified; a string is sent as is (to script malformed arguments). */
        arguments: z.union([z.record(z.string(), z.unknown()), z.string()]).optional(),
      }),
    )
    .min(1),
  ...delay,
});

const FillTurnSchema = z.strictObject({ fill: z.literal(true), ...delay });

/** Failure kinds a script can provoke (`auth` is left to real backends). */
export const scriptedErrorKinds = [
  'rate_limited',
  'server_error',
  'timeout',
  'connection',
  'stream_cut',
  'invalid_request',
] as const;

const ErrorTurnSchema = z.strictObject({ error: z.enum(scriptedErrorKinds), ...delay });

/** One scripted model call. */
export const LocalTurnSchema = z.union([
  ReplyTurnSchema,
  ToolCallsTurnSchema,
  FillTurnSchema,
  ErrorTurnSchema,
]);

/**
 * One scripted model call: `{reply}`, `{tool_calls: [{name, arguments}]}`, `{fill: true}` (exactly
 * `max_tokens` tokens, finish `length`) or `{error: kind}`; any of them may wait `delay_ms` first.
 */
export type LocalTurn = z.infer<typeof LocalTurnSchema>;

const LocalScriptSchema = z.array(LocalTurnSchema);

const scriptLine = /^agentos-script:(.*)$/m;

/**
 * The turns embedded in a conversation: the first system, developer or user message holding a line
 * `agentos-script: <JSON array of turns>`. Undefined when no message holds one.
 *
 * @throws ProviderError `invalid_request` when the script is not valid JSON or not a list of turns.
 */
export function embeddedScript(messages: readonly ChatMessage[]): LocalTurn[] | undefined {
  for (const message of messages) {
    if (message.role !== 'system' && message.role !== 'developer' && message.role !== 'user') continue;
    const match = scriptLine.exec(contentText(message.content));
    if (match === null) continue;
    return parseScript(match[1] ?? '');
  }
  return undefined;
}

function parseScript(text: string): LocalTurn[] {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new ProviderError('invalid_request', 'agentos-script is not valid JSON', {
      status: 400,
      cause: error,
    });
  }
  const parsed = LocalScriptSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? '' : ` at ${issue.path.join('.')}`;
    throw new ProviderError(
      'invalid_request',
      `agentos-script must be a JSON array of turns ({reply}, {tool_calls}, {fill}, {error})${where}: ${issue?.message ?? 'invalid'}`,
      { status: 400 },
    );
  }
  return parsed.data;
}
