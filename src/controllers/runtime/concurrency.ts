// Bounded parallelism for controllers that must write many objects at once (a new cluster's
// thousands of HostSubnets): at most `limit` calls in flight, every item attempted, the first
// failure rethrown after all calls settled (the work queue then retries the whole reconcile).
// No API access of its own.

export async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  let failed: { err: unknown } | undefined;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) {
      try {
        await fn(items[i]!, i);
      } catch (err) {
        failed ??= { err };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  if (failed) throw failed.err;
}
