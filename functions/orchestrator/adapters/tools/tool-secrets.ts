import { GetSecretValueCommand, ResourceNotFoundException } from '@aws-sdk/client-secrets-manager';
import type { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { BoundedCache } from '../../../shared/cache/bounded-cache.ts';

/** Why an HTTP tool's credential could not be read; the message never holds the secret. */
export class ToolSecretError extends Error {
  readonly retryable: boolean;
  constructor(message: string, retryable: boolean) {
    super(message);
    this.name = 'ToolSecretError';
    this.retryable = retryable;
  }
}

/** Reads the credential an HTTP tool names, from the calling tenant's own secrets only. */
export interface ToolSecretReader {
  /** @throws ToolSecretError when the secret is missing or cannot be read now. */
  read(tenantId: string, secret: string, signal?: AbortSignal): Promise<string>;
}

export type SecretsManagerToolSecretsOptions = {
  /** `agentos/<stage>/tools`: a tenant's secret is `<prefix>/<tenant_id>/<secret>`. */
  prefix: string;
  /** A read that takes longer fails (retryable). */
  timeoutMs?: number;
  /** How long a value read is reused; a rotated secret is seen after at most this long. */
  ttlMs?: number;
  maxEntries?: number;
  now?: () => number;
};

/**
 * Tool credentials in Secrets Manager (HLD §10.1): under the node's tool prefix and the tenant's id,
 * so a tool can never name another tenant's secret; read with a timeout and kept in a bounded cache
 * with a TTL. Values are never logged or put in an error.
 */
export class SecretsManagerToolSecrets implements ToolSecretReader {
  readonly #client: SecretsManagerClient;
  readonly #prefix: string;
  readonly #timeoutMs: number;
  readonly #cache: BoundedCache<string, string>;

  constructor(client: SecretsManagerClient, options: SecretsManagerToolSecretsOptions) {
    this.#client = client;
    this.#prefix = options.prefix.replace(/\/+$/, '');
    this.#timeoutMs = options.timeoutMs ?? 3000;
    this.#cache = new BoundedCache({
      maxEntries: options.maxEntries ?? 256,
      maxAgeMs: options.ttlMs ?? 300_000,
      ...(options.now === undefined ? {} : { now: options.now }),
    });
  }

  /** The full secret name of a tenant's tool secret. */
  secretId(tenantId: string, secret: string): string {
    return `${this.#prefix}/${tenantId}/${secret}`;
  }

  async read(tenantId: string, secret: string, signal?: AbortSignal): Promise<string> {
    const id = this.secretId(tenantId, secret);
    const cached = this.#cache.get(id);
    if (cached !== undefined) return cached;
    const timeout = AbortSignal.timeout(this.#timeoutMs);
    let value: string | undefined;
    try {
      const result = await this.#client.send(new GetSecretValueCommand({ SecretId: id }), {
        abortSignal: signal === undefined ? timeout : AbortSignal.any([timeout, signal]),
      });
      value = result.SecretString;
    } catch (error) {
      if (error instanceof ResourceNotFoundException) {
        throw new ToolSecretError(
          `The tool's credentials secret "${secret}" does not exist for this tenant`,
          false,
        );
      }
      throw new ToolSecretError(`The tool's credentials secret "${secret}" could not be read now`, true);
    }
    if (value === undefined || value === '') {
      throw new ToolSecretError(`The tool's credentials secret "${secret}" holds no text value`, false);
    }
    this.#cache.set(id, value);
    return value;
  }
}
