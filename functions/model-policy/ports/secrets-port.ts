/** Resolves credential references (`env:NAME`, `secretsmanager:<id>[#field]`) to their values. */
export interface SecretsPort {
  resolve(reference: string): Promise<string>;
}
