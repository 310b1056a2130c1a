import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { localProbeHeader, startHttpFront } from '../../cli/local/lambda-http-front.ts';
import type { ServedRequest } from '../../cli/local/lambda-http-front.ts';

describe('local API Gateway front', () => {
  it('throws naming the port when another process holds it, instead of crashing the node process', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const { port } = blocker.address() as AddressInfo;
    try {
      await expect(startHttpFront({ routes: [], port, host: '127.0.0.1' })).rejects.toThrow(
        `cannot listen on port ${port}: listen EADDRINUSE`,
      );
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('returns a probe of the node’s own tooling unobserved, and a client’s request observed', async () => {
    const served: ServedRequest[] = [];
    const front = await startHttpFront({
      routes: [],
      port: 0,
      host: '127.0.0.1',
      observe: (request) => served.push(request),
    });
    try {
      const probe = await fetch(`${front.url}/v1/health`, { headers: { [localProbeHeader]: 'dashboard' } });
      await probe.arrayBuffer();
      const client = await fetch(`${front.url}/v1/health`);
      await client.arrayBuffer();
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(served).toHaveLength(1);
      expect(served[0]?.status).toBe(client.status);
    } finally {
      await front.close();
    }
  });

  it('returns from close only once an invocation still working after its answer has finished', async () => {
    let finished = false;
    const front = await startHttpFront({
      routes: [
        {
          resource: '/{proxy+}',
          method: 'ANY',
          functionName: 'settling',
          timeoutSeconds: 10,
          // Answers at once, then works on, as a model call settling after its answer does.
          handler: () =>
            new Promise((resolve) => {
              setTimeout(() => {
                finished = true;
                resolve({ statusCode: 200, body: 'late' });
              }, 300);
            }),
        },
      ],
      port: 0,
      host: '127.0.0.1',
    });
    const answer = fetch(`${front.url}/v1/anything`).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await front.close();
    expect(finished).toBe(true);
    await answer;
  });

  it('returns from close after drainMs when an invocation never ends, and logs it', async () => {
    const logged: string[] = [];
    const front = await startHttpFront({
      routes: [
        {
          resource: '/{proxy+}',
          method: 'ANY',
          functionName: 'stuck',
          timeoutSeconds: 10,
          handler: () => new Promise(() => undefined),
        },
      ],
      port: 0,
      host: '127.0.0.1',
      drainMs: 100,
      log: (message) => void logged.push(message),
    });
    const answer = fetch(`${front.url}/v1/anything`).catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    await front.close();
    expect(logged).toContain('invocations still running when the front stopped');
    await answer;
  });
});
