// Liveness and readiness of `conntrail run`, served as /healthz and /readyz
// (producer/telemetry/http.ts) and read by `conntrail status`.
//
// Health owns the state; run.ts feeds it one named check per stage, in the
// order the stages start:
//   capture   the connect probe attached (the process exits if none does)
//   registry  the Avro writer schema resolved (only with encoding.format avro)
//   kafka     connected, and the last send acknowledged: not ready while a send
//             fails (kafkajs error in the reason) or a batch has waited more than
//             10 s for its acknowledgement (kafkajs retries inside one send for
//             up to ~70 s with the default kafka.retry.*, silently)
//   queue     not full (full: new records are being dropped)
// A check is a fixed result or a function evaluated at each request (cheap:
// it reads the stage's counters). Ready = every check ok and not stopping.
//
// Liveness: the process answers, so its event loop runs; the body says how
// long the loop was held up at most since the previous /healthz.
import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';
import type { SinkStats } from './sink/sink.ts';

export interface CheckResult {
  ok: boolean;
  /** What a person reads: what works, or why not. */
  detail: string;
}
export type Check = CheckResult | (() => CheckResult);

export interface Liveness {
  status: 'alive';
  pid: number;
  uptimeSeconds: number;
  /** Event loop delay since the previous liveness read (or the start), ms. */
  eventLoopDelayMs: { p99: number; max: number };
}

export interface Readiness {
  ready: boolean;
  /** The details of the checks that are not ok (and "stopping"), in stage order. */
  reasons: string[];
  checks: Record<string, CheckResult>;
}

export const ok = (detail: string): CheckResult => ({ ok: true, detail });
export const notReady = (detail: string): CheckResult => ({ ok: false, detail });

/** A batch unacknowledged for longer than this makes the kafka check fail. */
export const ACK_STALL_MS = 10_000;

export class Health {
  readonly #checks = new Map<string, Check>();
  readonly #startedAt = Date.now();
  readonly #loop: ELDHistogram;
  #stopping = false;

  constructor() {
    // One sample a second: a loop held up for longer still shows in max, and an
    // idle agent is not woken 50 times a second to measure itself.
    this.#loop = monitorEventLoopDelay({ resolution: 1000 });
    this.#loop.enable();
  }

  /** Sets (or replaces) the named check; a new name goes after the others. */
  set(name: string, check: Check): void {
    this.#checks.set(name, check);
  }

  /** Shutting down: not ready from now on. */
  stopping(): void {
    this.#stopping = true;
  }

  liveness(): Liveness {
    const ms = (ns: number): number => Math.round(ns / 1e5) / 10;
    const l = this.#loop;
    const eventLoopDelayMs = l.count > 0 ? { p99: ms(l.percentile(99)), max: ms(l.max) } : { p99: 0, max: 0 };
    l.reset();
    return { status: 'alive', pid: process.pid, uptimeSeconds: Math.round((Date.now() - this.#startedAt) / 1000), eventLoopDelayMs };
  }

  readiness(): Readiness {
    const checks: Record<string, CheckResult> = {};
    const reasons: string[] = [];
    if (this.#stopping) reasons.push('stopping: flushing the queue and detaching');
    for (const [name, check] of this.#checks) {
      let r: CheckResult;
      try {
        r = typeof check === 'function' ? check() : check;
      } catch (err) {
        r = notReady(`check failed: ${(err as Error)?.message ?? String(err)}`);
      }
      checks[name] = r;
      if (!r.ok) reasons.push(`${name}: ${r.detail}`);
    }
    return { ready: reasons.length === 0, reasons, checks };
  }

  /** Stops the event loop monitor. */
  close(): void {
    this.#loop.disable();
  }
}

const secondsAgo = (now: number, at: number): string => `${Math.max(0, Math.round((now - at) / 1000))} s`;

/** The kafka check over the sink's stats (after the sink connected). */
export function kafkaCheck(s: Pick<SinkStats, 'failingSince' | 'lastError' | 'lastPublishAt' | 'inFlight' | 'queue'>, now = Date.now(), stallMs = ACK_STALL_MS): CheckResult {
  if (s.failingSince !== null) {
    return notReady(`sends failing for ${secondsAgo(now, s.failingSince)}: ${s.lastError ?? 'unknown error'} (retrying; ${s.queue.records} records queued)`);
  }
  const since = s.inFlight.since;
  if (since !== null && now - since > stallMs) {
    return notReady(`no acknowledgement for ${secondsAgo(now, since)} (${s.inFlight.records} records in flight, ${s.queue.records} queued; kafkajs is retrying)`);
  }
  return ok(s.lastPublishAt === null ? 'connected, nothing published yet' : `last batch acknowledged ${secondsAgo(now, s.lastPublishAt)} ago`);
}

/** The queue check: full means records are being dropped (with the spool: the spool is full). */
export function queueCheck(s: Pick<SinkStats, 'queue' | 'spool'>): CheckResult {
  const q = s.queue;
  const sp = s.spool;
  if (sp) {
    // within a segment of maxBytes, the next segment may not fit
    if (sp.bytes >= sp.maxBytes * 0.98) return notReady(`spool full (${sp.bytes} of ${sp.maxBytes} bytes, ${sp.records} records): new records are dropped per spool.policy`);
    return ok(`${q.records} records queued, ${sp.diskOnly} more on disk only (spool: ${sp.records} unacknowledged)`);
  }
  if (q.records >= q.maxRecords || q.bytes >= q.maxBytes) {
    return notReady(`full (${q.records} of ${q.maxRecords} records, ${q.bytes} of ${q.maxBytes} bytes): new records are dropped`);
  }
  return ok(`${q.records} records queued`);
}
