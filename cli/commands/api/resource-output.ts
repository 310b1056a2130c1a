import type { AgentOsClient, ApiAnswer } from '../../client/agentos-client.ts';

/** Where an API command writes: results to `out`, refusals to `err`; `--json` for machines. */
export type CommandOutput = { out: NodeJS.WritableStream; err: NodeJS.WritableStream; json: boolean };

/** An API answer that is not the success a command expected: printed as `code: message`, exit 1. */
export class ApiRefusal extends Error {
  readonly code: string;
  readonly status: number;

  constructor(status: number, code: string, message: string) {
    super(`${code}: ${message}`);
    this.name = 'ApiRefusal';
    this.code = code;
    this.status = status;
  }
}

type Envelope = { error?: { code?: unknown; message?: unknown; details?: { fields?: unknown } } };

/** The body of a successful answer, or an ApiRefusal made of its error envelope. */
export function expectStatus<T>(answer: ApiAnswer<unknown>, ...expected: number[]): T {
  if (expected.includes(answer.status)) return answer.body as T;
  const error = (answer.body as Envelope | undefined)?.error;
  const code = typeof error?.code === 'string' ? error.code : `http_${answer.status}`;
  let message = typeof error?.message === 'string' ? error.message : `the node answered ${answer.status}`;
  const fields = Array.isArray(error?.details?.fields) ? (error.details.fields as unknown[]) : [];
  const named = fields
    .map((f) => f as { field?: unknown; message?: unknown })
    // A field the message already names (`tool_ids.0 "x" …`, `status: Invalid option …`) is not repeated.
    .filter(
      (f) =>
        typeof f.field === 'string' &&
        !message.includes(`${String(f.field)} `) &&
        !message.includes(`${String(f.field)}: ${String(f.message)}`),
    )
    .map((f) => `${String(f.field)}: ${String(f.message)}`);
  if (named.length > 0) message = `${message} (${named.join('; ')})`;
  throw new ApiRefusal(answer.status, code, message);
}

function cell(value: unknown): string {
  if (value === null || value === undefined) return '-';
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.replace(/\s+/g, ' ');
}

function clip(text: string, width: number): string {
  return text.length <= width ? text : `${text.slice(0, width - 1)}…`;
}

/** A plain-text table: a header row, then one row per item; cells are one line each, long ones clipped. */
export function table(
  columns: { title: string; value: (row: never) => unknown; max?: number }[],
  rows: unknown[],
): string {
  const cells = rows.map((row) =>
    columns.map((column) => clip(cell((column.value as (r: unknown) => unknown)(row)), column.max ?? 60)),
  );
  const widths = columns.map((column, i) => Math.max(column.title.length, ...cells.map((r) => r[i]!.length)));
  const line = (parts: string[]) =>
    parts
      .map((part, i) => (i === parts.length - 1 ? part : part.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.title)), ...cells.map(line)].join('\n') + '\n';
}

/** One object as `field  value` lines: scalars as they are, arrays and objects as one line of JSON. */
export function details(value: Record<string, unknown>, fields?: string[]): string {
  const keys = fields ?? Object.keys(value);
  const width = Math.max(...keys.map((k) => k.length));
  return (
    keys
      .filter((key) => key in value)
      .map((key) => {
        const field = value[key];
        const text =
          typeof field === 'string'
            ? field.replace(/\n/g, '\n' + ' '.repeat(width + 2))
            : JSON.stringify(field);
        return `${key.padEnd(width)}  ${text}`;
      })
      .join('\n') + '\n'
  );
}

/** Writes a result: its JSON for `--json`, else the human form. */
export function emit(output: CommandOutput, value: unknown, human: () => string): void {
  output.out.write(output.json ? `${JSON.stringify(value, null, 2)}\n` : human());
}

/** A list page as every list route of the API answers it. */
export type ListPage = { object: 'list'; data: Record<string, unknown>[]; next_cursor: string | null };

/** Paging options of the list commands. */
export type PageOptions = { limit?: number; cursor?: string; all?: boolean };

/** A path segment: an id as the API's routes take it. */
export const segment = (value: string) => encodeURIComponent(value);

/** A query string of the parameters that are set (`''` when none is). */
export function query(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params))
    if (value !== undefined) search.set(name, String(value));
  const text = search.toString();
  return text === '' ? '' : `?${text}`;
}

/** One page, or with `all` every page after it, merged into one list. */
export async function listPages(
  client: AgentOsClient,
  path: string,
  params: Record<string, string | number | undefined>,
  page: PageOptions,
): Promise<ListPage> {
  let cursor = page.cursor;
  const data: Record<string, unknown>[] = [];
  for (;;) {
    const body = expectStatus<ListPage>(
      await client.request('GET', `${path}${query({ ...params, limit: page.limit, cursor })}`),
      200,
    );
    data.push(...body.data);
    if (page.all !== true || body.next_cursor === null)
      return { object: 'list', data, next_cursor: body.next_cursor };
    cursor = body.next_cursor;
  }
}

/**
 * Lists `path` (see `listPages`) and writes the list: its JSON for `--json`, else a table of
 * `columns` and, when there is more, how to get it.
 */
export async function emitList(
  client: AgentOsClient,
  path: string,
  params: Record<string, string | number | undefined>,
  page: PageOptions,
  columns: Parameters<typeof table>[0],
  output: CommandOutput,
): Promise<number> {
  const body = await listPages(client, path, params, page);
  emit(output, body, () => {
    const text = table(columns, body.data);
    return body.next_cursor === null ? text : `${text}(more: --cursor ${body.next_cursor}, or --all)\n`;
  });
  return 0;
}

/** Reads one resource (`GET path`) and shows it as fields, in `order` when given. */
export async function showResource(
  client: AgentOsClient,
  path: string,
  output: CommandOutput,
  order?: (resource: Record<string, unknown>) => Parameters<typeof details>[1],
): Promise<number> {
  const resource = expectStatus<Record<string, unknown>>(await client.request('GET', path), 200);
  emit(output, resource, () => details(resource, order?.(resource)));
  return 0;
}
