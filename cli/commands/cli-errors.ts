import { InvalidArgumentError } from 'commander';

/** Exit codes of every `agentos` command. */
export const exitCodes = {
  /** The command ran and failed (a check, a refused request). */
  failed: 1,
  /** The command was used wrongly (arguments, options). */
  usage: 2,
  /** The node or the AWS endpoint could not be reached. */
  unreachable: 3,
} as const;

/** What a file error means to the person who named the file (`--file`, `--config`). */
const fileProblems: Record<string, string> = {
  ENOENT: 'no such file',
  EACCES: 'permission denied',
  EISDIR: 'it is a directory',
};

const connectionCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'ENOTFOUND', 'EHOSTUNREACH']);

/**
 * Turns any error a command throws into one line for standard error and an exit code, so no
 * command ends with a stack trace.
 */
export function describeCliError(error: unknown): { line: string; exitCode: number } {
  if (error instanceof InvalidArgumentError) return { line: error.message, exitCode: exitCodes.usage };
  const cause = (error as { cause?: { code?: unknown; address?: unknown; port?: unknown } } | undefined)
    ?.cause;
  if (error instanceof TypeError && typeof cause?.code === 'string' && connectionCodes.has(cause.code)) {
    const where =
      typeof cause.address === 'string'
        ? ` ${cause.address}${cause.port === undefined ? '' : `:${String(cause.port)}`}`
        : '';
    return {
      line: `cannot reach the node at${where} (${cause.code}); is it running? \`agentos status --local\` shows it`,
      exitCode: exitCodes.unreachable,
    };
  }
  const file = error as { code?: unknown; path?: unknown } | undefined;
  if (typeof file?.path === 'string' && typeof file.code === 'string' && file.code in fileProblems) {
    return { line: `cannot read ${file.path}: ${fileProblems[file.code]}`, exitCode: exitCodes.failed };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { line: message.split('\n')[0] ?? message, exitCode: exitCodes.failed };
}
