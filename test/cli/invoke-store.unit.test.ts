import { Logger } from '@aws-lambda-powertools/logger';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { inInvocation, installInvokeStore } from '../../cli/local/lambda-runtime-shim.ts';

/**
 * Two requests of different tenants interleaving on one logger, as a local node serves them: A sets
 * its keys, then B sets, logs and resets its own before A logs.
 */
async function interleave(logger: Logger, wrap: (id: string, fn: () => Promise<void>) => Promise<void>) {
  let bDone!: () => void;
  const bFinished = new Promise<void>((resolve) => (bDone = resolve));
  let aStarted!: () => void;
  const aReady = new Promise<void>((resolve) => (aStarted = resolve));
  const a = wrap('req-a', async () => {
    logger.appendKeys({ tenant_id: 'tenant-a' });
    aStarted();
    await bFinished;
    logger.info('request served');
    logger.resetKeys();
  });
  const b = wrap('req-b', async () => {
    await aReady;
    logger.appendKeys({ tenant_id: 'tenant-b' });
    logger.info('request served');
    logger.resetKeys();
    bDone();
  });
  await Promise.all([a, b]);
}

function capture(): string[] {
  const lines: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string | Uint8Array) => {
    lines.push(typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString('utf8'));
    return true;
  }) as typeof process.stdout.write);
  return lines;
}

describe('the local Lambda runtime’s invoke store', () => {
  beforeAll(() => {
    vi.stubEnv('POWERTOOLS_LOG_LEVEL', 'INFO');
    installInvokeStore();
  });

  it('returns each concurrent request’s own log keys on its lines', async () => {
    const logger = new Logger({ serviceName: 'invoke-store-test' });
    const lines = capture();
    await interleave(logger, (id, fn) => inInvocation(id, fn));
    const served = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(served.map((line) => line['tenant_id'])).toEqual(['tenant-b', 'tenant-a']);
  });

  it('mixes the keys of concurrent requests run outside an invocation (what the store prevents)', async () => {
    const logger = new Logger({ serviceName: 'invoke-store-test' });
    const lines = capture();
    await interleave(logger, (_id, fn) => fn());
    const served = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    // B's reset cleared the shared keys before A logged, so A's line lost its tenant.
    expect(served.map((line) => line['tenant_id'] ?? null)).toEqual(['tenant-b', null]);
  });
});
