/**
 * The local IAM endpoint's test controls (./fakeIam): injected faults, hooks run around the next
 * request for an action, and the seeded PRNG its latency and stale-read models draw from.
 */
import { roleKey } from "./fakeIamRules";

export type FakeFault =
  | { kind: "error"; code: string; status: number; message?: string } // e.g. Throttling/400, ConcurrentModification/409, ServiceFailure/500, AccessDenied/403
  | { kind: "drop" }; // destroy the socket without a response

interface FaultRule {
  action: string;
  fault: FakeFault;
  remaining: number;
  roleName?: string;
}

/**
 * mulberry32: a tiny deterministic PRNG (uniform in [0, 1)), so a staleness trial is reproducible by seed.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Options of {@link FakeIam.staleReads}. */
export interface StaleReadsOptions {
  /** How long after a document is replaced GetRole may still answer with a replaced one. */
  windowMs: number;
  /** Chance, per GetRole within the window, of a stale answer (0 = never, 1 = always). */
  probability: number;
  /** Seed of the PRNG; the same seed and the same sequence of requests give the same answers. */
  seed: number;
}

/** Faults to inject and hooks to run, each taken by the next matching request. */
export class FaultPlan {
  private readonly faults: FaultRule[] = [];
  private readonly beforeHooks: { action: string; hook: () => void }[] = [];
  private readonly afterHooks: { action: string; hook: () => void }[] = [];

  failNext(action: string, fault: FakeFault, count = 1, roleName?: string): void {
    this.faults.push({ action, fault, remaining: count, roleName });
  }

  after(action: string, hook: () => void): void {
    this.afterHooks.push({ action, hook });
  }

  before(action: string, hook: () => void): void {
    this.beforeHooks.push({ action, hook });
  }

  clear(): void {
    this.faults.length = 0;
  }

  runBefore(action: string): void {
    this.runHooks(this.beforeHooks, action);
  }

  runAfter(action: string): void {
    this.runHooks(this.afterHooks, action);
  }

  take(action: string, roleName: string | undefined): FakeFault | undefined {
    const i = this.faults.findIndex(
      (f) => f.action === action && (f.roleName === undefined || (roleName !== undefined && roleKey(f.roleName) === roleKey(roleName))),
    );
    if (i < 0) return undefined;
    const rule = this.faults[i];
    if (--rule.remaining <= 0) this.faults.splice(i, 1);
    return rule.fault;
  }

  private runHooks(hooks: { action: string; hook: () => void }[], action: string): void {
    const due = hooks.filter((h) => h.action === action);
    for (const h of due) hooks.splice(hooks.indexOf(h), 1);
    for (const h of due) h.hook();
  }
}

/**
 * The document a GetRole answers with: the one in `history` as of `readLagMs` ago, or, under the
 * staleReads model, one it replaced within the window (see FakeIam.staleReads). `stale`: the model chose an older one.
 */
export function documentAsRead(
  history: readonly { at: number; document: string }[],
  now: number,
  readLagMs: number,
  stale: { options: StaleReadsOptions; random: () => number } | undefined,
): { document: string; stale: boolean } {
  const asOf = now - readLagMs;
  let current = history.length - 1;
  while (current > 0 && history[current].at > asOf) current--;
  if (!stale || current === 0) return { document: history[current].document, stale: false };
  const { options, random } = stale;
  const since = now - options.windowMs;
  if (history[current].at <= since) return { document: history[current].document, stale: false }; // replaced long enough ago
  // Entry i was superseded when entry i + 1 was set; the immediately previous one always qualifies.
  let oldest = current - 1;
  while (oldest > 0 && history[oldest].at > since) oldest--;
  if (random() >= options.probability) return { document: history[current].document, stale: false };
  return { document: history[oldest + Math.floor(random() * (current - oldest))].document, stale: true };
}
