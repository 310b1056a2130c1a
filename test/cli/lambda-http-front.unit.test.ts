import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startHttpFront } from '../../cli/local/lambda-http-front.ts';

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
});
