// Late looks for sessions of roles removeAccount dropped. A login that was
// still starting up at the drop (authenticated, not yet listed among the
// server's backends) is listed only a moment later, so each dropped role's OID
// is looked at again after each of `agesMs` (1 s and 10 s by default), in one
// look per tick for all the OIDs due, whatever the removal rate. A failing look
// is retried on the next tick and reported at most once a minute, as is an OID
// left out because `cap` are waiting. Closing takes one last look at whatever
// is still waiting.

export interface OrphanSweepOptions {
  /** Ends the sessions of those roles that no longer exist; resolves to how many ended. */
  look(oids: string[]): Promise<number>;
  warn(message: string): void;
  describeError(err: unknown): string;
  agesMs?: readonly number[];
  cap?: number;
  tickMs?: number;
  now?: () => number;
}

export interface OrphanSweep {
  add(oid: string): void;
  /** OIDs still to be looked at (for tests and diagnostics). */
  pending(): number;
  /** Stops, after one last look at every OID still waiting, however young (bounded by timeoutMs; errors are reported). */
  close(timeoutMs?: number): Promise<void>;
}

export function createOrphanSweep(opts: OrphanSweepOptions): OrphanSweep {
  const ages = opts.agesMs ?? [1_000, 10_000];
  const cap = opts.cap ?? 10_000;
  const tickMs = opts.tickMs ?? 1_000;
  const now = opts.now ?? Date.now;
  const waiting = new Map<string, { at: number; looks: number }>();
  let timer: NodeJS.Timeout | null = null;
  let closed = false;
  let lastWarning = Number.NEGATIVE_INFINITY;
  const warnSometimes = (message: string) => {
    if (now() - lastWarning < 60_000) return;
    lastWarning = now();
    opts.warn(message);
  };

  function schedule(): void {
    if (timer || closed || waiting.size === 0) return;
    timer = setTimeout(tick, tickMs);
    timer.unref?.();
  }

  function tick(): void {
    timer = null;
    if (closed) return;
    const t = now();
    const due = [...waiting].filter(([, w]) => t - w.at >= ages[w.looks]!).map(([oid]) => oid);
    if (due.length === 0) return schedule();
    opts.look(due).then(
      (n) => {
        for (const oid of due) {
          const w = waiting.get(oid);
          if (w && ++w.looks >= ages.length) waiting.delete(oid);
        }
        if (n > 0) opts.warn(`ended ${n} session(s) of dropped ephemeral accounts that logged in while they were being removed`);
        schedule();
      },
      (err: unknown) => {
        const shown = due.slice(0, 5).join(', ') + (due.length > 5 ? ', …' : '');
        warnSometimes(`could not look for sessions of ${due.length} dropped account(s) (role OIDs ${shown}): ${opts.describeError(err)}; retrying`);
        schedule();
      },
    );
  }

  return {
    add(oid) {
      if (!waiting.has(oid)) {
        if (waiting.size >= cap) warnSometimes(`${cap} dropped accounts are waiting for their late-session look; role OID ${oid} is not looked at`);
        else waiting.set(oid, { at: now(), looks: 0 });
      }
      schedule();
    },
    pending: () => waiting.size,
    async close(timeoutMs = 2_000) {
      if (closed) return;
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      const last = [...waiting.keys()];
      waiting.clear();
      if (last.length === 0) return;
      let bound: NodeJS.Timeout | undefined;
      const expired = new Promise<never>((_, reject) => {
        bound = setTimeout(() => reject(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
      });
      try {
        const n = await Promise.race([opts.look(last), expired]);
        if (n > 0) opts.warn(`ended ${n} session(s) of dropped ephemeral accounts that logged in while they were being removed`);
      } catch (err) {
        opts.warn(`could not look for sessions of ${last.length} dropped account(s) before closing: ${opts.describeError(err)}`);
      } finally {
        clearTimeout(bound);
      }
    },
  };
}
