import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { startMoto } from '../../cli/local/emulator.ts';
import { awsClientConfig } from '../../functions/shared/aws/client-config.ts';
import { ConfigurationError } from '../../functions/shared/errors/agentos-error.ts';
import { createDocumentClient } from '../../functions/shared/storage/dynamo-client.ts';

describe('AWS client timeouts', () => {
  it('fails a call to a paused emulator instead of hanging, and recovers when it resumes', async () => {
    // A private emulator: pausing the shared one would stall every other test file.
    const moto = await startMoto();
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
    await expect(read()).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
    await moto.stop();
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
