import type { ModelProvider } from '../providers/model-provider.ts';
import type { BackendConfig, ModelCatalog } from '../schemas/model-catalog.ts';

/** Builds the provider of one backend (resolving its credentials). */
export type ProviderFactory = (backendId: string, backend: BackendConfig) => Promise<ModelProvider>;

/** How long a built provider is reused before its credentials are resolved again (rotation). */
const providerLifetimeMs = 5 * 60 * 1000;

/**
 * The providers of the catalog's backends, built on first use and rebuilt now and then so rotated
 * secrets are picked up. A failed build is not cached.
 */
export class ProviderRegistry {
  readonly #catalog: ModelCatalog;
  readonly #factory: ProviderFactory;
  readonly #now: () => number;
  readonly #built = new Map<string, { provider: Promise<ModelProvider>; at: number }>();

  constructor(catalog: ModelCatalog, factory: ProviderFactory, now: () => number = Date.now) {
    this.#catalog = catalog;
    this.#factory = factory;
    this.#now = now;
  }

  providerFor(backendId: string): Promise<ModelProvider> {
    const cached = this.#built.get(backendId);
    if (cached !== undefined && this.#now() - cached.at < providerLifetimeMs) return cached.provider;
    const backend = this.#catalog.backends[backendId];
    if (backend === undefined) return Promise.reject(new Error(`Unknown backend ${backendId}`));
    const provider = this.#factory(backendId, backend);
    this.#built.set(backendId, { provider, at: this.#now() });
    provider.catch(() => this.#built.delete(backendId));
    return provider;
  }
}
