// Waiting for work with a bound: shutdown must end whatever holds on, and
// what is left then ends with the process (or its lease, for a grant).

/** Waits for `work` at most `ms`: true when it finished in time, false when the bound passed first; its failure is thrown. */
export async function settleWithin(work: Promise<unknown>, ms: number): Promise<boolean> {
  let bound: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work.then(() => true), new Promise<false>((resolve) => (bound = setTimeout(() => resolve(false), ms)))]);
  } finally {
    clearTimeout(bound);
  }
}
