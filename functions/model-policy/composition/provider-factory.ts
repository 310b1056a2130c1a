import type { BedrockRuntimeClientConfig } from '@aws-sdk/client-bedrock-runtime';
import { z } from 'zod';
import { ConfigurationError } from '../../shared/errors/agentos-error.ts';
import type { SecretsPort } from '../ports/secrets-port.ts';
import { BedrockProvider } from '../providers/bedrock-provider.ts';
import { LocalModelProvider } from '../providers/local-provider.ts';
import { ProviderError } from '../providers/model-provider.ts';
import { OpenAiCompatibleProvider } from '../providers/openai-compatible-provider.ts';
import type { ProviderFactory } from '../router/provider-registry.ts';
import type { BackendConfig } from '../schemas/model-catalog.ts';

const AwsCredentialsSecretSchema = z.object({
  access_key_id: z.string().min(1),
  secret_access_key: z.string().min(1),
  session_token: z.string().min(1).optional(),
});

async function bedrockCredentials(
  secrets: SecretsPort,
  reference: string,
): Promise<BedrockRuntimeClientConfig['credentials']> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await secrets.resolve(reference));
  } catch (cause) {
    throw new ConfigurationError('Bedrock credentials are not JSON', { cause });
  }
  const credentials = AwsCredentialsSecretSchema.safeParse(parsed);
  if (!credentials.success) {
    throw new ConfigurationError('Bedrock credentials need access_key_id and secret_access_key');
  }
  return {
    accessKeyId: credentials.data.access_key_id,
    secretAccessKey: credentials.data.secret_access_key,
    ...(credentials.data.session_token === undefined ? {} : { sessionToken: credentials.data.session_token }),
  };
}

async function build(secrets: SecretsPort, backend: BackendConfig) {
  switch (backend.kind) {
    case 'local':
      return new LocalModelProvider();
    case 'openai':
      return new OpenAiCompatibleProvider({
        baseUrl: backend.base_url,
        ...(backend.api_key === undefined ? {} : { apiKey: await secrets.resolve(backend.api_key) }),
        ...(backend.max_tokens_field === undefined ? {} : { maxTokensField: backend.max_tokens_field }),
      });
    case 'bedrock':
      return new BedrockProvider({
        region: backend.region,
        ...(backend.endpoint === undefined ? {} : { endpoint: backend.endpoint }),
        ...(backend.credentials === undefined
          ? {}
          : { credentials: await bedrockCredentials(secrets, backend.credentials) }),
      });
  }
}

/**
 * Builds each backend's provider adapter with its credentials resolved from configuration or Secrets
 * Manager. A backend whose credentials cannot be resolved fails like a backend refusing AgentOS's
 * credentials (`auth`), so the router moves on to the next one.
 */
export function createProviderFactory(secrets: SecretsPort): ProviderFactory {
  return async (backendId, backend) => {
    try {
      return await build(secrets, backend);
    } catch (error) {
      throw new ProviderError('auth', `credentials of backend ${backendId} could not be resolved`, {
        cause: error,
      });
    }
  };
}
