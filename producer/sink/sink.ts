// KafkaSink: encode + enqueue (synchronous, never blocks), batch, send, retry.
//
// Batching: a batch is sent when the queue holds kafka.batch.maxRecords records
// or kafka.batch.maxBytes bytes, or when its oldest record has waited
// kafka.batch.lingerMs. At most kafka.batch.maxInFlight batches are unacknowledged
// at once; with 1 (the default) batches go out one after the other, so every
// key's records stay in order, retries included.
//
// When Kafka is down: the idempotent producer's kafkajs retries a send
// kafka.retry.retries times with backoff (without idempotence kafkajs does not
// retry, so that every resend is counted here); on a transient error (connection refused,
// timeout, no leader...), the sink keeps retrying the SAME batch, forever, with
// backoff (kafka.retry.initialRetryTimeMs doubling up to maxRetryTimeMs), and the
// queue keeps absorbing new records up to queue.maxRecords / queue.maxBytes. So
// nothing is lost while the outage fits in the queue; past that the queue's
// policy drops records, counted as queue_full_records / queue_full_bytes. A
// batch the broker refuses with a permanent error (message too large, invalid
// record, authorization) is dropped and counted as publish_failed — except that
// a too-large batch of several records is split in two and retried first.
// Memory while Kafka is down: queue.maxBytes + maxInFlight x batch.maxBytes.
//
// stop(timeoutMs) flushes for up to timeoutMs; what is still queued or
// unacknowledged then is counted as shutdown_unflushed.
import { performance } from 'node:perf_hooks';
import type { ConntrailConfig } from '../config/load.ts';
import type { NetTCPConnect } from '../model/net-tcp-connect.ts';
import type { RecordEncoder } from '../encode/types.ts';
import { KafkaTransport } from './kafka.ts';
import type { KafkaTransportOptions, SinkTransport } from './kafka.ts';
import type { LoggerLike } from '../log.ts';
import { silentLogger } from '../log.ts';
import { RecordQueue, emptyDropCounts, DROP_REASONS } from './queue.ts';
import type { DropCounts, QueuedMessage } from './queue.ts';
import { messageKey } from './keys.ts';
import type { KeyStrategy } from './keys.ts';

/** A batch on its way to Kafka, as the hooks see it. */
export interface SinkBatch {
  /** Sequence number of the batch in this sink, from 1. */
  readonly id: number;
  readonly topic: string;
  /** kafkajs messages; onBatchSend may add headers (e.g. traceparent). */
  readonly messages: QueuedMessage[];
  /** Bytes of keys and values. */
  readonly bytes: number;
  /** Send attempts so far (kafkajs's own retries inside one attempt are not counted). */
  attempts: number;
}

export interface BatchAck {
  /** Epoch ms of the acknowledgement. */
  ackedAt: number;
  /** From the first send attempt to the acknowledgement, ms. */
  latencyMs: number;
  /** What the transport returned (kafkajs: RecordMetadata[] with partitions and base offsets). */
  result: unknown;
}

/** Hooks for tracing and tests (issue 6). Called synchronously; must not throw. */
export interface SinkHooks {
  /** Before the first send attempt of a batch. */
  onBatchSend?(batch: SinkBatch): void;
  /** After Kafka acknowledged the batch. */
  onBatchSent?(batch: SinkBatch, ack: BatchAck): void;
  /** When a batch is given up (publish_failed or shutdown_unflushed). */
  onBatchFailed?(batch: SinkBatch, error: unknown): void;
}

export interface KafkaSinkConfig {
  kafka: ConntrailConfig['kafka'];
  queue: ConntrailConfig['queue'];
}

export interface KafkaSinkOptions {
  hooks?: SinkHooks;
  /** Default: a KafkaTransport (kafkajs) for cfg.kafka. */
  transport?: SinkTransport;
  /** Passed to the default KafkaTransport. */
  transportOptions?: KafkaTransportOptions;
  /** Ack latency samples kept for stats() (a ring). Default 1024. */
  latencySamples?: number;
}

export interface SinkStats {
  queue: { records: number; bytes: number; maxRecords: number; maxBytes: number };
  /** Records lost, by reason (see DROP_REASONS in queue.ts). */
  drops: DropCounts;
  droppedTotal: number;
  /** Records handed to push(). */
  pushed: number;
  published: { batches: number; records: number; bytes: number };
  /** Failed send attempts (each kafkajs send that rejected, retried or not). */
  publishErrors: number;
  /**
   * Batches (and their records) sent again after a transient failure. Without
   * idempotence these bound the duplicates a consumer can see: a failed send may
   * still have been appended.
   */
  resent: { batches: number; records: number };
  inFlight: { batches: number; records: number };
  /** True while a batch waits to be sent again after a failure. */
  retrying: boolean;
  /** Epoch ms of the last acknowledged batch, null before the first. */
  lastPublishAt: number | null;
  lastError: string | null;
  /** Over the last `latencySamples` acknowledged batches. */
  ackLatencyMs: { samples: number; p50: number; p99: number; max: number };
}

const MESSAGE_TOO_LARGE = new Set(['MESSAGE_TOO_LARGE', 'RECORD_LIST_TOO_LARGE']);
const UNRECOVERABLE = new Set(['RangeError', 'ReferenceError', 'SyntaxError', 'TypeError']);

/** The innermost cause of a (kafkajs) error. */
function rootCause(err: unknown): unknown {
  let e = err;
  for (let i = 0; i < 10; i++) {
    const c = (e as { cause?: unknown; originalError?: unknown } | null)?.cause ?? (e as { originalError?: unknown } | null)?.originalError;
    if (c === undefined || c === null || c === e) break;
    e = c;
  }
  return e;
}

/** The error's message, with its root cause's when that says more. */
export function describeError(err: unknown): string {
  const outer = (err as Error)?.message ?? String(err);
  const root = rootCause(err);
  const inner = (root as Error)?.message;
  return root === err || !inner || outer.includes(inner) ? outer : `${outer} (cause: ${inner})`;
}

/** Transient (retry the batch) or permanent (drop it)? */
export function classifySendError(err: unknown): 'transient' | 'permanent' | 'too-large' {
  const root = rootCause(err) as { retriable?: boolean; name?: string; type?: string } | null;
  if (root && typeof root.type === 'string' && MESSAGE_TOO_LARGE.has(root.type)) return 'too-large';
  if (root && UNRECOVERABLE.has(root.name ?? '')) return 'permanent';
  if (root && root.retriable === false) return 'permanent';
  return 'transient';
}

export class KafkaSink {
  readonly topic: string;
  readonly #encoder: RecordEncoder;
  readonly #logger: LoggerLike;
  readonly #hooks: SinkHooks;
  readonly #transport: SinkTransport;
  readonly #queue: RecordQueue;
  readonly #keyStrategy: KeyStrategy;
  readonly #batchRecords: number;
  readonly #batchBytes: number;
  readonly #lingerMs: number;
  readonly #maxInFlight: number;
  readonly #backoffInitial: number;
  readonly #backoffMax: number;
  readonly #drops: DropCounts = emptyDropCounts();
  readonly #latencies: Float64Array;
  #latencyCount = 0;

  #started = false;
  #stopped = false;
  #flushing = 0;
  #lingerTimer: NodeJS.Timeout | null = null;
  #inFlightBatches = 0;
  #inFlightRecords = 0;
  #retrying = 0;
  readonly #resent = { batches: 0, records: 0 };
  #batchSeq = 0;
  #pushed = 0;
  #published = { batches: 0, records: 0, bytes: 0 };
  #publishErrors = 0;
  #lastPublishAt: number | null = null;
  #lastError: string | null = null;
  #lastEncodeErrorLog = 0;
  readonly #sleeps = new Set<{ timer: NodeJS.Timeout; resolve: () => void }>();
  readonly #idleWaiters = new Set<() => void>();
  readonly #pending = new Set<Promise<void>>();

  constructor(cfg: KafkaSinkConfig, encoder: RecordEncoder, logger: LoggerLike = silentLogger, options: KafkaSinkOptions = {}) {
    const k = cfg.kafka;
    this.topic = k.topic;
    this.#encoder = encoder;
    this.#logger = logger;
    this.#hooks = options.hooks ?? {};
    this.#transport = options.transport ?? new KafkaTransport(k, logger, options.transportOptions);
    this.#queue = new RecordQueue({ maxRecords: cfg.queue.maxRecords, maxBytes: cfg.queue.maxBytes, policy: cfg.queue.policy });
    this.#keyStrategy = k.keyStrategy;
    this.#batchRecords = k.batch.maxRecords;
    this.#batchBytes = k.batch.maxBytes;
    this.#lingerMs = k.batch.lingerMs;
    this.#maxInFlight = k.idempotent ? 1 : k.batch.maxInFlight;
    this.#backoffInitial = k.retry.initialRetryTimeMs;
    this.#backoffMax = Math.max(k.retry.maxRetryTimeMs, k.retry.initialRetryTimeMs);
    this.#latencies = new Float64Array(options.latencySamples ?? 1024);
  }

  get format(): RecordEncoder['format'] { return this.#encoder.format; }

  /** Connects to Kafka and makes sure the topic exists (TopicMissingError, KafkaUnavailableError). */
  async start(): Promise<void> {
    if (this.#started) return;
    await this.#transport.connect();
    try {
      await this.#transport.ensureTopic();
    } catch (err) {
      await this.#transport.disconnect().catch(() => {});
      throw err;
    }
    this.#started = true;
    this.#schedule();
  }

  /**
   * Encodes and enqueues records. Synchronous and never blocks: what does not
   * fit is dropped per queue.policy and counted. Safe to call before start()
   * (records wait in the queue).
   */
  push(records: readonly NetTCPConnect[]): void {
    const n = records.length;
    this.#pushed += n;
    if (this.#stopped) {
      this.#drops.shutdown_unflushed += n;
      return;
    }
    const now = performance.now();
    const q = this.#queue;
    const dropNewest = q.policy === 'drop-newest';
    const strategy = this.#keyStrategy;
    for (let i = 0; i < n; i++) {
      if (dropNewest && q.fullRecords) {
        // counted without paying for an encode that would be thrown away
        q.drops.queue_full_records += n - i;
        break;
      }
      const r = records[i] as NetTCPConnect;
      let value: Buffer;
      try {
        value = this.#encoder.encode(r);
      } catch (err) {
        this.#encodeFailed(r, err);
        continue;
      }
      q.push(value, messageKey(strategy, r), Math.floor(r.timestamp / 1000), now);
    }
    this.#schedule();
  }

  /**
   * Sends everything queued now, ignoring linger; resolves true when the queue
   * is empty and every batch is acknowledged (or given up), false on timeout.
   */
  async flush(timeoutMs: number): Promise<boolean> {
    this.#flushing++;
    try {
      this.#schedule();
      return await this.#waitIdle(timeoutMs);
    } finally {
      this.#flushing--;
    }
  }

  /**
   * Flushes for up to timeoutMs, then disconnects. Records still queued or
   * unacknowledged are counted as shutdown_unflushed. Later push() calls count
   * their records the same way.
   */
  async stop(timeoutMs: number): Promise<void> {
    if (this.#stopped) return;
    const drained = this.#started ? await this.flush(timeoutMs) : this.#queue.length === 0;
    this.#stopped = true;
    if (this.#lingerTimer) clearTimeout(this.#lingerTimer);
    this.#lingerTimer = null;
    if (!drained) {
      const lost = this.#queue.clear() + this.#inFlightRecords;
      this.#drops.shutdown_unflushed += lost;
      this.#logger.warn({ lost, timeoutMs }, 'shutdown flush timed out: records not published');
    }
    for (const s of this.#sleeps) { clearTimeout(s.timer); s.resolve(); }
    await this.#transport.disconnect().catch((err: unknown) => {
      this.#logger.warn({ err: (err as Error)?.message }, 'Kafka disconnect failed');
    });
    // in-flight sends now fail; let them settle (bounded: kafkajs may still be
    // inside a connection retry) so nothing of ours runs after stop()
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.#pending]),
      new Promise<void>((resolve) => { timer = setTimeout(resolve, Math.max(1000, Math.min(timeoutMs, 5000))); }),
    ]);
    clearTimeout(timer);
  }

  stats(): SinkStats {
    const drops = { ...this.#drops };
    for (const r of DROP_REASONS) drops[r] += this.#queue.drops[r];
    const n = Math.min(this.#latencyCount, this.#latencies.length);
    const lat = Array.from(this.#latencies.subarray(0, n)).sort((a, b) => a - b);
    const pct = (p: number): number => (n === 0 ? 0 : lat[Math.min(n - 1, Math.floor(p * n))] as number);
    return {
      queue: { records: this.#queue.length, bytes: this.#queue.bytes, maxRecords: this.#queue.maxRecords, maxBytes: this.#queue.maxBytes },
      drops,
      droppedTotal: DROP_REASONS.reduce((s, r) => s + drops[r], 0),
      pushed: this.#pushed,
      published: { ...this.#published },
      publishErrors: this.#publishErrors,
      resent: { ...this.#resent },
      inFlight: { batches: this.#inFlightBatches, records: this.#inFlightRecords },
      retrying: this.#retrying > 0,
      lastPublishAt: this.#lastPublishAt,
      lastError: this.#lastError,
      ackLatencyMs: { samples: n, p50: pct(0.5), p99: pct(0.99), max: n === 0 ? 0 : (lat[n - 1] as number) },
    };
  }

  #encodeFailed(r: NetTCPConnect, err: unknown): void {
    this.#drops.encode_failed++;
    const now = Date.now();
    if (now - this.#lastEncodeErrorLog > 10_000) {
      this.#lastEncodeErrorLog = now;
      this.#logger.error({ err: (err as Error)?.message, eventId: (r as { eventId?: unknown })?.eventId, format: this.#encoder.format },
        'record does not fit the encoding; dropped (encode_failed)');
    }
  }

  #schedule(): void {
    if (!this.#started || this.#stopped) return;
    const q = this.#queue;
    while (this.#inFlightBatches < this.#maxInFlight && q.length > 0) {
      const due = this.#flushing > 0 || this.#lingerMs === 0 || q.length >= this.#batchRecords ||
        q.bytes >= this.#batchBytes || performance.now() - q.headEnqueuedAt >= this.#lingerMs;
      if (!due) {
        this.#armLinger();
        return;
      }
      this.#sendNext();
    }
  }

  #armLinger(): void {
    if (this.#lingerTimer) return;
    const wait = Math.max(0, this.#queue.headEnqueuedAt + this.#lingerMs - performance.now());
    this.#lingerTimer = setTimeout(() => {
      this.#lingerTimer = null;
      this.#schedule();
    }, Math.ceil(wait));
  }

  #sendNext(): void {
    if (this.#lingerTimer) {
      clearTimeout(this.#lingerTimer);
      this.#lingerTimer = null;
    }
    const { messages, bytes } = this.#queue.take(this.#batchRecords, this.#batchBytes);
    const batch: SinkBatch = { id: ++this.#batchSeq, topic: this.topic, messages, bytes, attempts: 0 };
    this.#inFlightBatches++;
    this.#inFlightRecords += messages.length;
    const p = this.#deliver(batch).finally(() => {
      this.#pending.delete(p);
      this.#inFlightBatches--;
      this.#inFlightRecords -= messages.length;
      this.#schedule();
      this.#checkIdle();
    });
    this.#pending.add(p);
  }

  /** Sends one batch until acknowledged, given up, or the sink stops. Never rejects. */
  async #deliver(batch: SinkBatch): Promise<void> {
    try {
      this.#hooks.onBatchSend?.(batch);
    } catch (err) {
      this.#logger.warn({ err: (err as Error)?.message }, 'onBatchSend hook threw');
    }
    const t0 = performance.now();
    await this.#sendParts(batch, batch.messages, t0);
  }

  async #sendParts(batch: SinkBatch, messages: QueuedMessage[], t0: number): Promise<void> {
    let failures = 0;
    for (;;) {
      if (this.#stopped) return; // counted by stop() as shutdown_unflushed
      batch.attempts++;
      let result: unknown;
      try {
        result = await this.#transport.send(messages);
      } catch (err) {
        if (this.#stopped) return;
        this.#publishErrors++;
        failures++;
        this.#lastError = describeError(err);
        const kind = classifySendError(err);
        if (kind === 'too-large' && messages.length > 1) {
          const half = messages.length >> 1;
          this.#logger.warn({ records: messages.length, batch: batch.id }, 'Kafka refused the batch as too large: splitting it');
          await this.#sendParts(batch, messages.slice(0, half), t0);
          await this.#sendParts(batch, messages.slice(half), t0);
          return;
        }
        if (kind !== 'transient') {
          this.#drops.publish_failed += messages.length;
          this.#logger.error({ err: this.#lastError, records: messages.length, batch: batch.id }, 'Kafka refused a batch: records dropped (publish_failed)');
          try { this.#hooks.onBatchFailed?.(batch, err); } catch { /* hook errors are not ours */ }
          return;
        }
        const delay = this.#backoff(failures);
        if (failures === 1 || failures % 10 === 0) {
          this.#logger.warn({ err: this.#lastError, records: messages.length, batch: batch.id, failures, retryInMs: delay, queued: this.#queue.length },
            'Kafka send failed: retrying the batch while the queue holds new records');
        }
        this.#retrying++;
        try { await this.#sleep(delay); } finally { this.#retrying--; }
        this.#resent.batches++;
        this.#resent.records += messages.length;
        continue;
      }
      const ackedAt = Date.now();
      const latencyMs = performance.now() - t0;
      this.#published.batches++;
      this.#published.records += messages.length;
      this.#published.bytes += messages === batch.messages ? batch.bytes : messages.reduce((s, m) => s + m.value.length + (m.key?.length ?? 0), 0);
      this.#lastPublishAt = ackedAt;
      this.#latencies[this.#latencyCount++ % this.#latencies.length] = latencyMs;
      if (failures > 0) this.#logger.info({ batch: batch.id, failures }, 'Kafka send succeeded after retries');
      try {
        this.#hooks.onBatchSent?.(batch, { ackedAt, latencyMs, result });
      } catch (err) {
        this.#logger.warn({ err: (err as Error)?.message }, 'onBatchSent hook threw');
      }
      return;
    }
  }

  #backoff(failures: number): number {
    const base = Math.min(this.#backoffMax, this.#backoffInitial * 2 ** Math.min(failures - 1, 30));
    return Math.round(base * (0.8 + Math.random() * 0.4));
  }

  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const entry = {
        timer: setTimeout(() => { this.#sleeps.delete(entry); resolve(); }, ms),
        resolve,
      };
      this.#sleeps.add(entry);
    });
  }

  #isIdle(): boolean {
    return this.#queue.length === 0 && this.#inFlightBatches === 0;
  }

  #checkIdle(): void {
    if (!this.#isIdle()) return;
    for (const w of this.#idleWaiters) w();
  }

  #waitIdle(timeoutMs: number): Promise<boolean> {
    if (this.#isIdle()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        this.#idleWaiters.delete(onIdle);
        resolve(ok);
      };
      const onIdle = (): void => done(true);
      const timer = setTimeout(() => done(this.#isIdle()), timeoutMs);
      this.#idleWaiters.add(onIdle);
    });
  }
}
