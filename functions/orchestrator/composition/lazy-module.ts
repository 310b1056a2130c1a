/**
 * Resolves to `given`, or imports the module on first call; a failed import is retried on the next
 * call instead of being remembered.
 */
export function lazyModule<M>(given: M | undefined, load: () => Promise<M>): () => Promise<M> {
  let loading: Promise<M> | undefined = given === undefined ? undefined : Promise.resolve(given);
  return () =>
    (loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    }));
}
