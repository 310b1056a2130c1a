import { createServer, request } from 'node:http';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One AWS request seen by the counter, with what a cost model needs of it. */
export type SeenCall = {
  /** `DynamoDB.TransactWriteItems`, `SQS.SendMessage`, `SFN.StartExecution`, `POST /path`… */
  action: string;
  /** Bytes of the request and of the answer (a DynamoDB answer holds the items read). */
  requestBytes: number;
  responseBytes: number;
  /** The request's JSON body (AWS JSON protocols), or undefined for other protocols. */
  body: unknown;
  /** The answer's HTTP status. */
  status: number;
  /** The error an answer of 400 or more names (`x-amzn-ErrorType`, else its JSON `__type`). */
  errorType?: string;
};

/** A proxy in front of the emulator that counts every AWS request by its action. */
export type AwsCallCounter = {
  /** The endpoint to give the node instead of the emulator's. */
  endpoint: string;
  /** Calls seen since the last `take()` (or since start), then forgets them. */
  take(): SeenCall[];
  close(): Promise<void>;
};

/**
 * The action of an AWS request: the JSON protocols (DynamoDB, SQS, Step Functions, CloudWatch Logs,
 * X-Ray…) name it in `X-Amz-Target`; the query protocol in an `Action` parameter; REST ones by
 * method and path.
 */
export function actionOf(req: IncomingMessage, body: Buffer): string {
  const target = String(req.headers['x-amz-target'] ?? '');
  if (target !== '')
    return target
      .replace(/^DynamoDB_\d+\./, 'DynamoDB.')
      .replace(/^AmazonSQS\./, 'SQS.')
      .replace(/^AWSStepFunctions\./, 'SFN.');
  const query = new URL(req.url ?? '/', 'http://x').searchParams.get('Action');
  const form = new URLSearchParams(body.toString('utf8')).get('Action');
  const action = query ?? form;
  if (action !== null) return action;
  return `${req.method ?? '?'} ${(req.url ?? '?').split('?')[0]}`;
}

function parsed(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/**
 * The error an AWS answer names: `x-amzn-ErrorType` (details after a colon dropped), else its JSON
 * `__type`; undefined when it names none (its status says all there is).
 */
function errorTypeOf(answer: IncomingMessage, body: Buffer): string | undefined {
  const header = answer.headers['x-amzn-errortype'];
  const fromBody = (parsed(body) as { __type?: unknown } | undefined)?.__type;
  const named = typeof header === 'string' ? header : typeof fromBody === 'string' ? fromBody : undefined;
  return named?.split(':')[0]?.replace(/^.*#/, '');
}

/** Starts a counting proxy to `target` (the emulator's endpoint) on a free local port. */
export async function startAwsCallCounter(target: string): Promise<AwsCallCounter> {
  const upstream = new URL(target);
  let calls: SeenCall[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const forward = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          let responseBytes = 0;
          const status = answer.statusCode ?? 502;
          const errorChunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => {
            responseBytes += chunk.length;
            if (status >= 400) errorChunks.push(chunk);
          });
          answer.pipe(res);
          answer.on('end', () => {
            const errorType = status >= 400 ? errorTypeOf(answer, Buffer.concat(errorChunks)) : undefined;
            calls.push({
              action: actionOf(req, body),
              requestBytes: body.length,
              responseBytes,
              body: parsed(body),
              status,
              ...(errorType === undefined ? {} : { errorType }),
            });
          });
        },
      );
      forward.on('error', () => res.destroy());
      forward.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    take() {
      const seen = calls;
      calls = [];
      return seen;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/**
 * Requests that do not follow runs, which per-run counts leave out: the long polls of the step
 * queue's event source mapping (on AWS the Lambda service makes them; the cost model counts one
 * receive per step message instead) and the local node's queue sampler.
 */
export const pollerActions = new Set([
  'SQS.ReceiveMessage',
  // The local node's queue sampler; on AWS the queue's depth comes from CloudWatch's own metrics.
  'SQS.GetQueueAttributes',
]);

/** Calls per action, most first. */
export function countByAction(calls: readonly SeenCall[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const call of calls) counts.set(call.action, (counts.get(call.action) ?? 0) + 1);
  return new Map([...counts].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])));
}

/** Where the counts measured before the per-run request cuts are kept, for before → after. */
const baselineFile = new URL('./run-aws-calls-baseline.json', import.meta.url);

/** Prints the AWS requests per run, per action, beside the baseline (before → after). */
export function printRunCalls(
  calls: readonly SeenCall[],
  runs: number,
  options: { compare?: boolean } = {},
): void {
  const perRun = (n: number) => Math.round((n / Math.max(runs, 1)) * 10) / 10;
  const counted = calls.filter((call) => !pollerActions.has(call.action));
  const after = new Map([...countByAction(counted)].map(([action, n]) => [action, perRun(n)]));
  const before =
    options.compare !== false && existsSync(baselineFile)
      ? new Map(Object.entries(JSON.parse(readFileSync(baselineFile, 'utf8')) as Record<string, number>))
      : new Map<string, number>();
  if (options.compare !== false && process.env['AGENTOS_BENCH_WRITE_BASELINE'] === '1')
    writeFileSync(baselineFile, `${JSON.stringify(Object.fromEntries(after), null, 2)}\n`);
  const polls = calls.length - counted.length;
  console.log(
    `\nAWS requests per three-step run, by action (${runs} runs; the step queue's long polls and the local queue sampler, ${perRun(polls)} per run, left out)`,
  );
  console.log('| action | before | after |');
  console.log('| --- | ---: | ---: |');
  const actions = [...new Set([...after.keys(), ...before.keys()])];
  const total = (m: Map<string, number>) => Math.round([...m.values()].reduce((a, b) => a + b, 0) * 10) / 10;
  for (const action of actions)
    console.log(`| ${action} | ${before.get(action) ?? 0} | ${after.get(action) ?? 0} |`);
  console.log(`| **total** | ${total(before)} | ${total(after)} |`);
  if (process.env['AGENTOS_BENCH_DETAIL'] !== '1') return;
  console.log('\nper key shape:');
  for (const [detail, n] of countByDetail(counted)) console.log(`${perRun(n)}\t${detail}`);
  const answered = new Map<string, number>();
  for (const call of counted)
    answered.set(call.action, (answered.get(call.action) ?? 0) + call.responseBytes);
  console.log('\nanswer KiB per run, by action:');
  for (const [action, bytes] of [...answered].sort((a, b) => b[1] - a[1]))
    console.log(`${(bytes / 1024 / Math.max(runs, 1)).toFixed(1)}\t${action}`);
  const refused = counted.filter((call) => call.status >= 400);
  console.log(`\nrefused answers per run (in the counts above): ${perRun(refused.length)}`);
  const reasons = countByAction(
    refused.map((call) => ({
      ...call,
      action: `${detailOf(call)}: ${call.status} ${call.errorType ?? ''}`.trim(),
    })),
  );
  for (const [reason, n] of reasons) console.log(`${perRun(n)}\t${reason}`);
}

function countByDetail(calls: readonly SeenCall[]): [string, number][] {
  const counts = new Map<string, number>();
  for (const call of calls) counts.set(detailOf(call), (counts.get(detailOf(call)) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1]);
}

/** A key's shape, with ids and hashes replaced, so calls on different runs group together. */
export function keyShape(pk: unknown): string {
  if (typeof pk !== 'string') return '?';
  return pk
    .replace(/tenant\/[^/]+/, 'tenant/{t}')
    .replace(/\/(runs|agents|tools|principals|peers|steps|quota|records)\/[^/]+/g, '/$1/{id}')
    .replace(/[0-9a-f]{32,}/g, '{hash}')
    .replace(/\d{4}-\d{2}(-\d{2})?(T[\d:.]+Z?)?/g, '{date}');
}

type DynamoKey = { pk?: { S?: string } };
type DynamoInput = {
  Key?: DynamoKey;
  Item?: DynamoKey;
  ExpressionAttributeValues?: Record<string, { S?: string }>;
  TransactItems?: Record<string, { Key?: DynamoKey; Item?: DynamoKey }>[];
  RequestItems?: Record<string, { Keys?: DynamoKey[] }>;
};

/** What a call touched: the key shape of a DynamoDB call, the parts of a transaction. */
export function detailOf(call: SeenCall): string {
  const input = (call.body ?? {}) as DynamoInput;
  if (!call.action.startsWith('DynamoDB.')) return call.action;
  if (input.TransactItems !== undefined) {
    const parts = input.TransactItems.map((entry) => {
      const [kind, op] = Object.entries(entry)[0] ?? ['?', {}];
      return `${kind} ${keyShape((op.Key ?? op.Item)?.pk?.S)}`;
    });
    return `${call.action} [${[...new Set(parts)].join('; ')}]`;
  }
  if (input.RequestItems !== undefined) {
    const keys = Object.values(input.RequestItems).flatMap((r) => r.Keys ?? []);
    return `${call.action} ${[...new Set(keys.map((k) => keyShape(k.pk?.S)))].join(', ')}`;
  }
  const pk = input.Key?.pk?.S ?? input.Item?.pk?.S ?? input.ExpressionAttributeValues?.[':pk']?.S;
  return `${call.action} ${keyShape(pk)}`;
}
