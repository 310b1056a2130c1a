import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { AwsClientConfig } from '../../shared/aws/client-config.ts';
import { ToolCatalog } from '../adapters/tools/tool-catalog.ts';
import type { ToolCatalogDeps } from '../adapters/tools/tool-catalog.ts';
import { SecretsManagerToolSecrets, ToolSecretError } from '../adapters/tools/tool-secrets.ts';
import type { ToolSecretReader } from '../adapters/tools/tool-secrets.ts';

/**
 * The step worker's tools, in a module of their own: only the step worker calls tools, so the API
 * functions never load the tool catalog, its schema validator or the Secrets Manager client; the
 * step worker imports this module with the first step of an agent that has tools (and the catalog
 * its schema validator on the first argument check).
 */

/**
 * The step worker's tool catalog (HLD §3.1), its HTTP tools' credentials under the node's tool
 * prefix in Secrets Manager (HLD §10.1); without a prefix the node has no store, and every read of
 * a credential is refused.
 */
export function createToolCatalog(
  settings: { aws: AwsClientConfig; traced: <T>(client: T) => T },
  deps: Omit<ToolCatalogDeps, 'secrets' | 'validator'> & { secretPrefix: string | undefined },
): ToolCatalog {
  const { secretPrefix, ...catalog } = deps;
  const secrets: ToolSecretReader =
    secretPrefix === undefined
      ? {
          read: async () => {
            throw new ToolSecretError('This node has no store for tool credentials', false);
          },
        }
      : new SecretsManagerToolSecrets(settings.traced(new SecretsManagerClient(settings.aws)), {
          prefix: secretPrefix,
        });
  return new ToolCatalog({ ...catalog, secrets });
}
