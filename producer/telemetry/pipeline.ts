// Glue between conntrail's stages (source -> Enricher -> KafkaSink) and the
// stage-agnostic tracer and metrics: run.ts creates one PipelineTelemetry when
// telemetry is on and calls it at four places (see README.md):
//
//   onEvents(events) {
//     const t0 = pt.now();                     // the kernel batch arrived
//     records.length = 0;
//     enricher.process(events, records);
//     pt.sampleRecords(records, t0);           // sampling decision per record (a countdown)
//     sink.push(records);                      // encoder wrapped by pt.wrapEncoder
//     pt.afterPush();                          // sampled records the queue refused end as dropped
//   }
//   new KafkaSink(..., pt.wrapEncoder(encoder), log, { hooks: pt.hooks })
//   registerMetrics(() => snapshotOf({ capture, enrich, sink stats }))
//
// How a sampled record is followed without touching the queue: the wrapped
// encoder recognises the sampled record objects (an identity compare per
// record, in push order) and remembers the Buffer it returned; the queue hands
// that same Buffer to onBatchSend, where the traceparent header is added and
// the batch span starts with links to the sampled events.
//
// This file imports types only: loading it loads no OpenTelemetry package.
import type { RecordEncoder } from '../encode/types.ts';
import type { NetTCPConnect } from '../model/net-tcp-connect.ts';
import type { BatchAck, SinkBatch, SinkHooks } from '../sink/sink.ts';
import type { PipelineStats } from '../stats.ts';
import type { BatchTrace, EventTrace, PipelineMetrics, PipelineStatsSnapshot, PipelineTracer } from './types.ts';

/** Wall clock now, epoch ms with sub-ms precision. */
export function now(): number {
  return performance.timeOrigin + performance.now();
}

interface Outstanding {
  ev: EventTrace;
  seq: number;
}

export interface PipelineTelemetryOptions {
  /** Sampled records waiting for a batch, at most; past it the oldest end as dropped ("evicted"). Default 10000. */
  maxOutstanding?: number;
}

export class PipelineTelemetry {
  readonly tracer: PipelineTracer;
  readonly metrics: PipelineMetrics | null;
  readonly hooks: SinkHooks;
  readonly #maxOutstanding: number;
  // Sampled records of the current push, in push order.
  readonly #pendingRecords: NetTCPConnect[] = [];
  readonly #pendingTraces: EventTrace[] = [];
  #pendingIdx = 0;
  // Encoded and queued sampled records, by message value, in queue order.
  readonly #byValue = new Map<Buffer, Outstanding>();
  #seq = 0;
  readonly #batches = new Map<SinkBatch, BatchTrace | null>();

  constructor(tracer: PipelineTracer, metrics: PipelineMetrics | null, options: PipelineTelemetryOptions = {}) {
    this.tracer = tracer;
    this.metrics = metrics;
    this.#maxOutstanding = options.maxOutstanding ?? 10_000;
    this.hooks = {
      onBatchSend: (batch) => this.#onBatchSend(batch),
      onBatchSent: (batch, ack) => this.#onBatchSent(batch, ack),
      onBatchFailed: (batch, err) => this.#onBatchFailed(batch, err),
    };
  }

  now(): number {
    return now();
  }

  /**
   * After enrichment, before sink.push(records): the per-record sampling
   * decision. `receivedMs`: when the kernel batch reached conntrail (now()
   * at the top of onEvents).
   */
  sampleRecords(records: readonly NetTCPConnect[], receivedMs: number): void {
    const tracer = this.tracer;
    if (!tracer.enabled) return;
    let enrichedMs = 0;
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const ev = tracer.sampleEvent(r.timestamp, receivedMs);
      if (ev === null) continue;
      if (enrichedMs === 0) enrichedMs = now();
      ev.mark('enriched', enrichedMs);
      ev.setAttributes({
        'server.address': r.dstIP,
        'server.port': r.dstPort,
        'process.pid': r.process.pid,
        'thread.id': r.process.tid,
        'thread.name': r.process.comm,
        ...(r.process.exe ? { 'process.executable.path': r.process.exe } : {}),
        'conntrail.event.id': r.eventId,
        'conntrail.probe': r.probe,
        'conntrail.dns.results': r.results.length,
      });
      this.#pendingRecords.push(r);
      this.#pendingTraces.push(ev);
    }
  }

  /** After sink.push(records): sampled records that were not encoded and queued end as dropped. */
  afterPush(): void {
    const n = this.#pendingTraces.length;
    if (n === 0) return;
    for (let i = this.#pendingIdx; i < n; i++) this.#pendingTraces[i]!.dropped('queue_full');
    this.#pendingRecords.length = 0;
    this.#pendingTraces.length = 0;
    this.#pendingIdx = 0;
  }

  /** The sink's encoder, marking and remembering the sampled records it encodes. */
  wrapEncoder(inner: RecordEncoder): RecordEncoder {
    if (!this.tracer.enabled) return inner;
    return {
      get format() {
        return inner.format;
      },
      encode: (r: NetTCPConnect): Buffer => {
        const i = this.#pendingIdx;
        if (i >= this.#pendingRecords.length || this.#pendingRecords[i] !== r) return inner.encode(r);
        const ev = this.#pendingTraces[i]!;
        this.#pendingIdx = i + 1;
        let value: Buffer;
        try {
          value = inner.encode(r);
        } catch (err) {
          ev.dropped('encode_failed');
          throw err;
        }
        const t = now();
        ev.mark('encoded', t);
        ev.mark('queued', t);
        this.#remember(value, ev);
        return value;
      },
    };
  }

  #remember(value: Buffer, ev: EventTrace): void {
    this.#byValue.set(value, { ev, seq: ++this.#seq });
    if (this.#byValue.size > this.#maxOutstanding) {
      const [oldest, o] = this.#byValue.entries().next().value as [Buffer, Outstanding];
      this.#byValue.delete(oldest);
      o.ev.dropped('evicted');
    }
  }

  #onBatchSend(batch: SinkBatch): void {
    const sampled: EventTrace[] = [];
    if (this.#byValue.size > 0) {
      let minSeq = Number.POSITIVE_INFINITY;
      const messages = batch.messages;
      for (let i = 0; i < messages.length; i++) {
        const m = messages[i]!;
        const o = this.#byValue.get(m.value);
        if (o === undefined) continue;
        this.#byValue.delete(m.value);
        if (o.seq < minSeq) minSeq = o.seq;
        sampled.push(o.ev);
        const h = o.ev.headers();
        m.headers = m.headers ? { ...m.headers, ...h } : h;
      }
      // The queue is FIFO: sampled records queued before this batch's first
      // one and not sent were dropped by the queue (drop-oldest).
      if (sampled.length > 0) {
        for (const [value, o] of this.#byValue) {
          if (o.seq >= minSeq) break;
          this.#byValue.delete(value);
          o.ev.dropped('evicted');
        }
      }
    }
    this.#batches.set(
      batch,
      this.tracer.enabled ? this.tracer.startBatch(batch.topic, batch.messages.length, sampled, batch.bytes) : null,
    );
  }

  #onBatchSent(batch: SinkBatch, ack: BatchAck): void {
    if (!this.#batches.has(batch)) return; // a later part of a split batch
    const bt = this.#batches.get(batch);
    this.#batches.delete(batch);
    bt?.end(undefined, ack.ackedAt);
    // One value per batch: the latency of its oldest record (the queue is
    // FIFO: the first message), an upper bound for every record in the batch.
    // Per record would be exact but costs about 1 µs of CPU per record at
    // 80k records/s, mostly garbage collection: the SDK allocates on every
    // histogram.record() (measured, see README.md).
    const first = batch.messages[0];
    if (this.metrics !== null && first !== undefined) {
      const d = (ack.ackedAt - Number(first.timestamp)) / 1000;
      this.metrics.recordLatency(d > 0 ? d : 0);
    }
  }

  #onBatchFailed(batch: SinkBatch, err: unknown): void {
    const bt = this.#batches.get(batch);
    this.#batches.delete(batch);
    bt?.end(err ?? new Error('batch given up'));
  }

  /** At shutdown, after sink.stop(): end the traces still open. */
  close(): void {
    this.afterPush();
    for (const o of this.#byValue.values()) o.ev.dropped('shutdown_unflushed');
    this.#byValue.clear();
    for (const bt of this.#batches.values()) bt?.end(Object.assign(new Error('not acknowledged before shutdown'), { type: 'shutdown_unflushed' }));
    this.#batches.clear();
  }
}

function snake(s: string): string {
  return s.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase());
}

function snakeKeys(o: object): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(o)) if (typeof v === 'number') out[snake(k)] = v;
  return out;
}

/** The metrics snapshot from the stages' own stats (capture counters, Enricher.stats(), KafkaSink.stats()). */
export function snapshotOf(s: PipelineStats): PipelineStatsSnapshot {
  const c = s.capture;
  const e = s.enrich;
  const k = c.kernel;
  return {
    capture: {
      events: { connect: { ...c.received.byProbe }, dns: { cgroup_skb: c.received.dns } },
      kernelDrops: snakeKeys(c.drops),
      excluded: { self: k.excludedSelf, port: k.excludedPort, cidr: k.excludedCidr },
      ...(c.dnsCapture ? { dnsAttached: c.dnsCapture.attached ? 1 : 0 } : {}),
    },
    decode: {
      skipped: { ...c.malformed, not_tcp: e.connectsNotTcp, not_inet: e.connectsNotInet },
    },
    dns: {
      parseErrors: { ...e.dnsErrors, internal: e.dnsInternalErrors },
      cache: {
        size: e.cache.names,
        addresses: e.cache.addresses,
        hits: e.cache.hits,
        misses: e.cache.misses,
        expired: e.cache.expiredLinks,
      },
    },
    outcome: {
      joined: { state: e.outcome.joinedState, syscall: e.outcome.joinedSyscall },
      inProgress: { ...e.outcome.inProgress },
      orphans: e.outcome.orphans,
      noCookie: e.outcome.noCookie,
      excluded: k.outcomeExcluded,
      pending: e.outcome.pending,
    },
    queue: {
      depth: s.sink.queue.records,
      bytes: s.sink.queue.bytes,
      drops: { ...s.sink.drops },
    },
    ...(s.sink.spool ? {
      spool: { records: s.sink.spool.records, diskOnly: s.sink.spool.diskOnly, bytes: s.sink.spool.bytes, segments: s.sink.spool.segments, replayed: s.sink.spool.replayed },
    } : {}),
    publish: {
      batches: s.sink.published.batches,
      records: s.sink.published.records,
      bytes: s.sink.published.bytes,
      errors: s.sink.publishErrors,
    },
  };
}
