// What one AgentStatus record says, from the pipeline's running totals: the
// counts since the last record Kafka acknowledged (a record that was not sent
// leaves its interval to the next one), drops by stage, and the time range the
// drops fell in. Pure: the clock and the totals are given.
import type { AgentStatus } from '../model/agent-status.ts';

/** Lost records by the stage that lost them (AgentStatus.drops without the total). */
export interface StageDrops {
  kernel: number;
  decode: number;
  queue: number;
  spool: number;
  publish: number;
  shutdown: number;
}
export const DROP_STAGES = ['kernel', 'decode', 'queue', 'spool', 'publish', 'shutdown'] as const satisfies readonly (keyof StageDrops)[];

/** The stage of a sink drop reason (producer/sink DROP_REASONS): queue_*, record_too_large, spool_*, shutdown_*, else publish. */
export function stageOfSinkReason(reason: string): keyof StageDrops {
  if (reason.startsWith('queue_') || reason === 'record_too_large') return 'queue';
  if (reason.startsWith('spool_')) return 'spool';
  if (reason.startsWith('shutdown_')) return 'shutdown';
  return 'publish';
}

/** The pipeline's running totals since the process started, and its gauges now. */
export interface StatusTotals {
  captured: number;
  published: number;
  drops: StageDrops;
  queueRecords: number;
  /** null: no spool. */
  spool: { records: number; bytes: number } | null;
  /** Epoch ms, null: none yet. */
  lastPublishAt: number | null;
  lastError: string | null;
}

export function dropTotal(d: StageDrops): number {
  let n = 0;
  for (const s of DROP_STAGES) n += d[s];
  return n;
}

/** What does not change between the records of one process. */
export interface StatusIdentity {
  host: AgentStatus['host'];
  version: string;
  /** Epoch ms. */
  startedAt: number;
  probe: string;
  dnsCapture: string;
}

/**
 * The interval's state: the totals at its start, and when drops were seen in
 * it. observe() is called with the totals now and then (the pipeline does about
 * once a second while records flow) so that the loss range has that resolution.
 */
export class StatusInterval {
  #startMs: number;
  #base: StatusTotals | null = null;
  #lastObservedMs: number;
  #lastDropTotal = 0;
  #lossStartMs: number | null = null;
  #lossEndMs: number | null = null;
  #sequence = 0;

  constructor(startMs: number) {
    this.#startMs = startMs;
    this.#lastObservedMs = startMs;
  }

  /** Notes drops seen since the last observation (`dropped`: all drops so far): the loss fell between the two. */
  observe(dropped: number, nowMs: number): void {
    if (dropped > this.#lastDropTotal) {
      this.#lossStartMs ??= this.#lastObservedMs;
      this.#lossEndMs = nowMs;
    }
    this.#lastDropTotal = dropped;
    this.#lastObservedMs = nowMs;
  }

  /** The record for the interval up to now (observes first). */
  record(id: StatusIdentity, totals: StatusTotals, nowMs: number, eventId: string): AgentStatus {
    this.observe(dropTotal(totals.drops), nowMs);
    const base = this.#base;
    const since = (now: number, then: number | undefined): number => Math.max(0, now - (then ?? 0));
    const d = (stage: keyof StageDrops): number => since(totals.drops[stage], base?.drops[stage]);
    const stages: StageDrops = { kernel: d('kernel'), decode: d('decode'), queue: d('queue'), spool: d('spool'), publish: d('publish'), shutdown: d('shutdown') };
    const drops = { ...stages, total: dropTotal(stages) };
    const micros = (ms: number | null): number | null => (ms === null ? null : Math.round(ms * 1000));
    return {
      eventId,
      eventName: 'AgentStatus',
      timestamp: Math.round(nowMs * 1000),
      intervalStart: Math.round(this.#startMs * 1000),
      host: id.host,
      agent: { version: id.version, startedAt: Math.round(id.startedAt * 1000), sequence: ++this.#sequence, probe: id.probe, dnsCapture: id.dnsCapture },
      captured: since(totals.captured, base?.captured),
      published: since(totals.published, base?.published),
      drops,
      lossStart: drops.total > 0 ? micros(this.#lossStartMs ?? this.#startMs) : null,
      lossEnd: drops.total > 0 ? micros(this.#lossEndMs ?? nowMs) : null,
      queueRecords: totals.queueRecords,
      spoolRecords: totals.spool?.records ?? null,
      spoolBytes: totals.spool?.bytes ?? null,
      lastPublishAt: micros(totals.lastPublishAt),
      lastError: totals.lastError,
    };
  }

  /** Kafka acknowledged `sent` (made from `totals`): the next interval starts at its time. */
  acknowledged(sent: AgentStatus, totals: StatusTotals): void {
    this.#base = totals;
    this.#startMs = sent.timestamp / 1000;
    // drops seen while the record was on its way belong to the next interval
    if (this.#lossEndMs !== null && this.#lossEndMs > this.#startMs) this.#lossStartMs = this.#startMs;
    else this.#lossStartMs = this.#lossEndMs = null;
  }
}
