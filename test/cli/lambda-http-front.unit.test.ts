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
});
