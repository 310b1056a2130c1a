import type { ToolSecretReader } from '../tools/tool-secrets.ts';
import { ToolSecretError } from '../tools/tool-secrets.ts';

/**
 * HTTP tools' credentials held in one process's memory, by tenant and secret name: the unit tier's
 * Secrets Manager. The same tenant scoping as SecretsManagerToolSecrets (a tenant reads only its own)
 * and the same error for a missing secret.
 */
export class InMemoryToolSecrets implements ToolSecretReader {
  readonly #values = new Map<string, string>();

  /** Stores a tenant's secret. */
  set(tenantId: string, secret: string, value: string): void {
    this.#values.set(`${tenantId}/${secret}`, value);
  }

  async read(tenantId: string, secret: string): Promise<string> {
    const value = this.#values.get(`${tenantId}/${secret}`);
    if (value === undefined) {
      throw new ToolSecretError(
        `The tool's credentials secret "${secret}" does not exist for this tenant`,
        false,
      );
    }
    return value;
  }
}
