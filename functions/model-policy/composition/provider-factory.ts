import type { BedrockRuntimeClientConfig } from '@aws-sdk/client-bedrock-runtime';
import { z } from 'zod';
import { ConfigurationError } from '../../shared/errors/agentos-error.ts';
import { ProviderError } from '../ports/model-provider-port.ts';
import type { ModelProvider } from '../ports/model-provider-port.ts';
import type { ProviderFactory } from '../router/provider-registry.ts';
import type { BackendConfig } from '../schemas/model-catalog.ts';

const AwsCredentialsSecretSchema = z.object({
  access_key_id: z.string().min(1),
  secret_access_key: z.string().min(1),
  session_token: z.string().min(1).optional(),
});

function bedrockCredentials(secret: string): BedrockRuntimeClientConfig['credentials'] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(secret);
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

/**
 * The builder of a backend's provider adapter, its module imported when the first backend of its
 * kind is built: a node loads only the adapters its catalog uses (Bedrock's brings the Bedrock
 * Runtime client), and those on the first call, not at init.
 */
async function builderFor(
  backend: BackendConfig,
): Promise<(credentials: string | undefined) => ModelProvider> {
  switch (backend.kind) {
    case 'local': {
      const { LocalModelProvider } = await import('../providers/local-provider.ts');
      return () => new LocalModelProvider();
    }
    case 'openai': {
      const { OpenAiCompatibleProvider } = await import('../providers/openai-compatible-provider.ts');
      return (credentials) =>
        new OpenAiCompatibleProvider({
          baseUrl: backend.base_url,
          ...(credentials === undefined ? {} : { apiKey: credentials }),
          ...(backend.max_tokens_field === undefined ? {} : { maxTokensField: backend.max_tokens_field }),
        });
    }
    case 'bedrock': {
      const { BedrockProvider } = await import('../providers/bedrock-provider.ts');
      return (credentials) =>
        new BedrockProvider({
          region: backend.region,
          ...(backend.endpoint === undefined ? {} : { endpoint: backend.endpoint }),
          ...(credentials === undefined ? {} : { credentials: bedrockCredentials(credentials) }),
        });
    }
  }
}

/**
 * Builds each backend's provider adapter with the credentials the registry resolved from
 * configuration or Secrets Manager. Credentials that cannot be used fail like a backend refusing
 * AgentOS's credentials (`auth`), so the router moves on to the next one.
 */
export function createProviderFactory(): ProviderFactory {
  return async (backendId, backend, credentials) => {
    // A module that fails to load fails as itself, not as the backend's credentials.
    const build = await builderFor(backend);
    try {
      return build(credentials);
    } catch (error) {
      throw new ProviderError('auth', `credentials of backend ${backendId} cannot be used`, {
        cause: error,
      });
    }
  };
}
