/**
 * The gateway benchmark's HTTP client, in a process of its own (forked by
 * `model-gateway-bench.ts`): a client sharing the event loop of an in-process gateway would wait
 * for the gateway's work after the answer (an off-path settlement's marshalling and signing)
 * before it saw its own last byte, which a client on another machine never does. Each message
 * asks for one POST; the answer gives the status and when the request started and its last byte
 * arrived, on this process's clock (`performance.timeOrigin + performance.now()`, ms). A `clock`
 * message is answered with that clock, so the parent can line the two processes' clocks up.
 */
import { Agent, request } from 'node:http';

/** One POST to make. */
export type ClientAsk =
  | {
      kind: 'post';
      id: number;
      url: string;
      headers: Record<string, string>;
      body: string;
      keepAlive: 'on' | 'off';
    }
  | { kind: 'clock'; id: number };

/** What the client answers. */
export type ClientAnswer =
  | { id: number; status: number; startedAt: number; endedAt: number }
  | { id: number; error: string }
  | { id: number; clock: number };

const maxSockets = 256;
const agents = {
  on: new Agent({ keepAlive: true, maxSockets }),
  off: new Agent({ keepAlive: false, maxSockets }),
};

function now(): number {
  return performance.timeOrigin + performance.now();
}

function answer(message: ClientAnswer): void {
  process.send?.(message);
}

function post(ask: Extract<ClientAsk, { kind: 'post' }>): void {
  const startedAt = now();
  const outgoing = request(
    ask.url,
    {
      method: 'POST',
      agent: agents[ask.keepAlive],
      headers: {
        ...ask.headers,
        'content-length': String(Buffer.byteLength(ask.body)),
        ...(ask.keepAlive === 'off' ? { connection: 'close' } : {}),
      },
    },
    (response) => {
      response.on('data', () => {});
      response.on('error', (error) => answer({ id: ask.id, error: error.message }));
      response.on('end', () =>
        answer({ id: ask.id, status: response.statusCode ?? 0, startedAt, endedAt: now() }),
      );
    },
  );
  outgoing.on('error', (error) => answer({ id: ask.id, error: error.message }));
  outgoing.end(ask.body);
}

process.on('message', (ask: ClientAsk) => {
  if (ask.kind === 'clock') answer({ id: ask.id, clock: now() });
  else post(ask);
});
process.on('disconnect', () => {
  agents.on.destroy();
  agents.off.destroy();
  process.exit(0);
});
