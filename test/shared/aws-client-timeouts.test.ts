import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it, onTestFinished } from 'vitest';
import { startMoto } from '../../cli/local/emulator.ts';
import { awsClientConfig } from '../../functions/shared/aws/client-config.ts';
import { ConfigurationError } from '../../functions/shared/errors/agentos-error.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';

describe('AWS client timeouts', () => {
  it('fails a call to a paused emulator instead of hanging, and recovers when it resumes', async () => {
    // A private emulator: pausing the shared one would stall every other test file.
    const moto = await startMoto();
    onTestFinished(() => moto.stop());
    const db = createDocumentClient(
      awsClientConfig({
        AGENTOS_AWS_ENDPOINT: moto.endpoint,
        AGENTOS_AWS_REQUEST_TIMEOUT_MS: '300',
        AGENTOS_AWS_MAX_ATTEMPTS: '2',
      }),
    );
    const read = () => db.send(new GetCommand({ TableName: 'absent', Key: { pk: 'x', sk: 0 } }));
    process.kill(moto.pid!, 'SIGSTOP');
    try {
      // Without a request timeout this call would wait for as long as the emulator is paused.
      await expect(read()).rejects.toMatchObject({ name: expect.stringMatching(/Timeout/) });
    } finally {
      process.kill(moto.pid!, 'SIGCONT');
    }
    // Once resumed, the emulator first works off the requests that piled up while it was paused, so
    // the short-timeout client may time out a few more times before it gets an answer again.
    let answer: unknown;
    for (let attempt = 0; attempt < 30; attempt += 1) {
      answer = await read().catch((error: unknown) => error);
      if ((answer as { name?: string }).name !== 'TimeoutError') break;
    }
    expect(answer).toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('throws when a timeout or attempt budget is zero or not an integer', () => {
    expect(() => awsClientConfig({ AGENTOS_AWS_REQUEST_TIMEOUT_MS: '0' })).toThrow(ConfigurationError);
    expect(() => awsClientConfig({ AGENTOS_AWS_MAX_ATTEMPTS: '2.5' })).toThrow(ConfigurationError);
    expect(awsClientConfig({})).toMatchObject({
      maxAttempts: 3,
      requestHandler: { connectionTimeout: 1_000, requestTimeout: 3_000 },
    });
  });
});
