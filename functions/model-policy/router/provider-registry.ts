import type { FailureReporter } from '../../shared/observability/failure-reporter.ts';
import { createHash } from 'node:crypto';
import type { SecretsPort } from '../ports/secrets-port.ts';
import { ProviderError } from '../ports/model-provider-port.ts';
import type { ModelProvider } from '../ports/model-provider-port.ts';
import type { BackendConfig, ModelCatalog } from '../schemas/model-catalog.ts';

/**
 * Builds the provider of one backend with its resolved credentials: the value behind the backend's
 * credential reference, or `undefined` when it has none (a keyless server, the function's role).
 */
export type ProviderFactory = (
  backendId: string,
  backend: BackendConfig,
  credentials: string | undefined,
) => Promise<ModelProvider>;

/** How often the credentials behind a backend's reference are resolved again, to notice rotation. */
const recheckMs = 5 * 60 * 1000;

/** How long a replaced provider stays open: the longest a call that still uses it may run. */
const retireAfterMs = 15 * 60 * 1000;

/** A provider and the hash of the credentials it was built with (none without a reference). */
type Built = { provider: ModelProvider; digest: string | undefined };

type Entry = {
  built: Promise<Built>;
  reference: string | undefined;
  checkedAt: number;
  checking: boolean;
};

/** The credential reference of a backend, if it has one. */
function credentialReferenceOf(backend: BackendConfig): string | undefined {
  switch (backend.kind) {
    case 'openai':
      return backend.api_key;
    case 'bedrock':
      return backend.credentials;
    case 'local':
      return undefined;
  }
}

function digestOf(credentials: string): string {
  return createHash('sha256').update(credentials).digest('hex');
}

/**
 * The providers of the catalog's backends, built on first use and kept warm (their connections
 * reused across calls). A backend with a credential reference has it resolved again now and then;
 * only when the value changed (a rotated secret) is its provider rebuilt, and the replaced one is
 * closed once no call can still be using it. Calls never wait for that check. A failed build is not
 * cached.
 */
export class ProviderRegistry {
  readonly #catalog: ModelCatalog;
  readonly #factory: ProviderFactory;
  readonly #secrets: SecretsPort;
  readonly #now: () => number;
  readonly #reportFailure: FailureReporter;
  readonly #built = new Map<string, Entry>();
  readonly #retired: { provider: ModelProvider; at: number }[] = [];

  constructor(
    catalog: ModelCatalog,
    factory: ProviderFactory,
    secrets: SecretsPort,
    reportFailure: FailureReporter,
    now: () => number = Date.now,
  ) {
    this.#reportFailure = reportFailure;
    this.#catalog = catalog;
    this.#factory = factory;
    this.#secrets = secrets;
    this.#now = now;
  }

  async providerFor(backendId: string): Promise<ModelProvider> {
    this.#closeRetired();
    let entry = this.#built.get(backendId);
    if (entry === undefined) {
      const backend = this.#catalog.backends[backendId];
      if (backend === undefined) throw new Error(`Unknown backend ${backendId}`);
      const reference = credentialReferenceOf(backend);
      const created: Entry = {
        built: this.#create(backendId, backend, reference),
        reference,
        checkedAt: this.#now(),
        checking: false,
      };
      created.built.catch(() => {
        if (this.#built.get(backendId) === created) this.#built.delete(backendId);
      });
      this.#built.set(backendId, created);
      entry = created;
    } else if (
      entry.reference !== undefined &&
      !entry.checking &&
      this.#now() - entry.checkedAt >= recheckMs
    ) {
      void this.#recheck(backendId, entry, entry.reference);
    }
    return (await entry.built).provider;
  }

  async #create(backendId: string, backend: BackendConfig, reference: string | undefined): Promise<Built> {
    const credentials = reference === undefined ? undefined : await this.#resolve(backendId, reference);
    return {
      provider: await this.#factory(backendId, backend, credentials),
      digest: credentials === undefined ? undefined : digestOf(credentials),
    };
  }

  /** Resolves a backend's credentials again; rebuilds its provider only if they changed. */
  async #recheck(backendId: string, entry: Entry, reference: string): Promise<void> {
    entry.checking = true;
    try {
      const current = await entry.built;
      const credentials = await this.#resolve(backendId, reference);
      const digest = digestOf(credentials);
      if (digest === current.digest) return;
      const provider = await this.#factory(backendId, this.#catalog.backends[backendId]!, credentials);
      this.#built.set(backendId, {
        built: Promise.resolve({ provider, digest }),
        reference,
        checkedAt: this.#now(),
        checking: false,
      });
      this.#retired.push({ provider: current.provider, at: this.#now() });
    } catch (error) {
      // The current provider keeps serving; its credentials are checked again next time.
      this.#reportFailure('backend credentials could not be refreshed', error, { backend: backendId });
    } finally {
      entry.checking = false;
      entry.checkedAt = this.#now();
    }
  }

  #closeRetired(): void {
    while (this.#retired.length > 0 && this.#now() - this.#retired[0]!.at >= retireAfterMs) {
      this.#retired.shift()!.provider.close?.();
    }
  }

  async #resolve(backendId: string, reference: string): Promise<string> {
    try {
      return await this.#secrets.resolve(reference);
    } catch (error) {
      // Fails like a backend refusing AgentOS's credentials, so the router moves on.
      throw new ProviderError('auth', `credentials of backend ${backendId} could not be resolved`, {
        cause: error,
      });
    }
  }
}
