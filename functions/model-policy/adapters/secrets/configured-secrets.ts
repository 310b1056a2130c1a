import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { BoundedCache } from '../../../shared/cache/bounded-cache.ts';
import { maybeEnv } from '../../../shared/config/env.ts';
import type { EnvSource } from '../../../shared/config/env.ts';
import { ConfigurationError } from '../../../shared/errors/agentos-error.ts';
import type { SecretsPort } from '../../ports/secrets-port.ts';

/** How long a Secrets Manager value is reused before it is fetched again (rotation). */
const cacheMs = 5 * 60 * 1000;

/**
 * SecretsPort for the catalog's credential references: `env:NAME` reads the function's environment;
 * `secretsmanager:<arn-or-name>[#field]` reads Secrets Manager (a JSON field of the secret when
 * `#field` is given). Values are never logged and never come from requests.
 */
export class ConfiguredSecrets implements SecretsPort {
  readonly #env: EnvSource;
  readonly #client: () => SecretsManagerClient | Promise<SecretsManagerClient>;
  readonly #cache = new BoundedCache<string, Promise<string>>({ maxEntries: 256, maxAgeMs: cacheMs });

  /**
   * @param client The Secrets Manager client, asked for on the first `secretsmanager:` reference
   * (the composition root imports the client then; see model-policy-root.ts).
   */
  constructor(env: EnvSource, client: () => SecretsManagerClient | Promise<SecretsManagerClient>) {
    this.#env = env;
    this.#client = client;
  }

  resolve(reference: string): Promise<string> {
    if (reference.startsWith('env:')) {
      const name = reference.slice('env:'.length);
      const value = maybeEnv(name, this.#env);
      if (value === undefined) {
        return Promise.reject(
          new ConfigurationError(`Credential reference ${reference} names an unset variable`),
        );
      }
      return Promise.resolve(value);
    }
    if (!reference.startsWith('secretsmanager:')) {
      return Promise.reject(new ConfigurationError('Unknown credential reference kind'));
    }
    const cached = this.#cache.get(reference);
    if (cached !== undefined) return cached;
    const value = this.#fetch(reference.slice('secretsmanager:'.length));
    this.#cache.set(reference, value);
    value.catch(() => this.#cache.delete(reference));
    return value;
  }

  async #fetch(target: string): Promise<string> {
    const [secretId, field] = target.split('#') as [string, string | undefined];
    // Imported with the client, on the first secret to read: a catalog of `env:` references never does.
    const [client, { GetSecretValueCommand }] = await Promise.all([
      this.#client(),
      import('@aws-sdk/client-secrets-manager'),
    ]);
    const result = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
    const text =
      result.SecretString ??
      (result.SecretBinary === undefined ? undefined : Buffer.from(result.SecretBinary).toString('utf8'));
    if (text === undefined) throw new ConfigurationError(`Secret ${secretId} has no value`);
    if (field === undefined) return text;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (cause) {
      throw new ConfigurationError(`Secret ${secretId} is not JSON, so it has no field ${field}`, { cause });
    }
    const value = (parsed as Record<string, unknown>)[field];
    if (typeof value !== 'string' || value === '') {
      throw new ConfigurationError(`Secret ${secretId} has no string field ${field}`);
    }
    return value;
  }
}
