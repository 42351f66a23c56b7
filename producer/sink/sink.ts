// KafkaSink, the façade of the publishing side: it wires the encoder, the
// bounded queue (queue.ts), the batching below, delivery with retries
// (delivery.ts) and the Kafka transport with its error rules (kafka.ts,
// errors.ts). push() encodes and enqueues, synchronously, never blocking.
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
// timeout, no leader...), delivery keeps retrying the SAME batch, forever, with
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
//
// With the disk spool (spool.directory, sink/spool/spool.ts) every record
// accepted is written to the spool first, one write per push(); the memory
// queue caches its tail. When the queue is full, records stay on disk only and
// are read back, in order, once the queue has room (until then every new
// record goes to disk only, so order is kept). Kafka's acknowledgements, in
// send order, move the spool's cursor. Nothing is then lost to a long outage
// (up to spool.maxBytes, then spool.policy: spool_full), a crash or a stop:
// what is unacknowledged at stop() stays in the spool for the next start, not
// counted as shutdown_unflushed.
import { performance } from 'node:perf_hooks';
import type { ConntrailConfig } from '../config/load.ts';
import type { NetTCPConnect } from '../model/net-tcp-connect.ts';
import type { RecordEncoder } from '../encode/types.ts';
import type { LoggerLike } from '../log.ts';
import { silentLogger } from '../log.ts';
import { Delivery } from './delivery.ts';
import type { SinkBatch, SinkHooks } from './delivery.ts';
import { classifySendError, describeError, SinkError } from './errors.ts';
import { KafkaTransport } from './kafka.ts';
import type { KafkaTransportOptions, SinkTransport } from './kafka.ts';
import { messageKey } from './keys.ts';
import type { KeyStrategy } from './keys.ts';
import { RecordQueue, emptyDropCounts, DROP_REASONS } from './queue.ts';
import type { DropCounts, QueuedMessage } from './queue.ts';
import { Spool } from './spool/spool.ts';
import type { SpoolStats } from './spool/spool.ts';

export type { BatchAck, SinkBatch, SinkHooks } from './delivery.ts';

export interface KafkaSinkConfig {
  kafka: ConntrailConfig['kafka'];
  queue: ConntrailConfig['queue'];
  /** The disk spool; absent or directory "": none. */
  spool?: ConntrailConfig['spool'];
}

export interface KafkaSinkOptions {
  hooks?: SinkHooks;
  /** Default: a KafkaTransport (kafkajs) for cfg.kafka. */
  transport?: SinkTransport;
  /** Passed to the default KafkaTransport. */
  transportOptions?: KafkaTransportOptions;
  /** Ack latency samples kept for stats() (a ring). Default 1024. */
  latencySamples?: number;
  /** A spool already opened (run.ts opens it before capture, to fail early); default: opened from cfg.spool. */
  spool?: Spool | null;
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
  /** Batches sent and not yet acknowledged; `since`: epoch ms the oldest of them was first sent (null: none). */
  inFlight: { batches: number; records: number; since: number | null };
  /** True while a batch waits to be sent again after a failure. */
  retrying: boolean;
  /** Epoch ms of the last acknowledged batch, null before the first. */
  lastPublishAt: number | null;
  lastError: string | null;
  /**
   * Epoch ms of the first failed send since the last acknowledgement (null: the
   * last send was acknowledged, or none failed). Health's kafka check reads it.
   */
  failingSince: number | null;
  /** Over the last `latencySamples` acknowledged batches. */
  ackLatencyMs: { samples: number; p50: number; p99: number; max: number };
  /** The disk spool's figures (null: no spool). */
  spool: (SpoolStats & { maxBytes: number }) | null;
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
  readonly #delivery: Delivery;
  readonly #drops: DropCounts = emptyDropCounts();
  readonly #spool: Spool | null;
  /** Batches in send order with the spool sequence after their last record; acks move the cursor over the done prefix. */
  readonly #spoolAcks: { end: number; done: boolean }[] = [];
  // one push()'s records accepted by the spool, before they go to the queue (reused)
  readonly #burstValues: Buffer[] = [];
  readonly #burstKeys: (string | null)[] = [];
  readonly #burstTimes: number[] = [];

  #started = false;
  #stopped = false;
  #flushing = 0;
  #lingerTimer: NodeJS.Timeout | null = null;
  #inFlightBatches = 0;
  #inFlightRecords = 0;
  #batchSeq = 0;
  #pushed = 0;
  #lastEncodeErrorLog = 0;
  readonly #idleWaiters = new Set<() => void>();
  readonly #pending = new Set<Promise<void>>();
  readonly #asideTopics = new Set<string>();

  constructor(cfg: KafkaSinkConfig, encoder: RecordEncoder, logger: LoggerLike = silentLogger, options: KafkaSinkOptions = {}) {
    const k = cfg.kafka;
    this.topic = k.topic;
    this.#encoder = encoder;
    this.#logger = logger;
    this.#hooks = options.hooks ?? {};
    this.#transport = options.transport ?? new KafkaTransport(k, logger, options.transportOptions);
    this.#queue = new RecordQueue({ maxRecords: cfg.queue.maxRecords, maxBytes: cfg.queue.maxBytes, policy: cfg.queue.policy });
    this.#spool = options.spool !== undefined ? options.spool
      : cfg.spool && cfg.spool.directory !== '' ? Spool.open(cfg.spool, logger) : null;
    this.#keyStrategy = k.keyStrategy;
    this.#batchRecords = k.batch.maxRecords;
    this.#batchBytes = k.batch.maxBytes;
    this.#lingerMs = k.batch.lingerMs;
    this.#maxInFlight = k.idempotent ? 1 : k.batch.maxInFlight;
    this.#delivery = new Delivery({
      transport: this.#transport,
      // the transport's errors are kafkajs's (or shaped like them): the Kafka side's rules
      classify: classifySendError,
      describe: describeError,
      hooks: this.#hooks,
      logger,
      initialRetryMs: k.retry.initialRetryTimeMs,
      maxRetryMs: k.retry.maxRetryTimeMs,
      latencySamples: options.latencySamples ?? 1024,
      queued: () => this.#queue.length + (this.#spool?.diskOnly ?? 0),
    });
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
    if (this.#spool) {
      this.#pushSpooled(records);
      this.#schedule();
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
      const value = this.#encode(r);
      if (value !== null) q.push(value, messageKey(strategy, r), Math.floor(r.timestamp / 1000), now);
    }
    this.#schedule();
  }

  /** push() with the spool: encode, one write of the records to the spool, then to the queue while it has room. */
  #pushSpooled(records: readonly NetTCPConnect[]): void {
    const sp = this.#spool as Spool;
    const q = this.#queue;
    const strategy = this.#keyStrategy;
    const values = this.#burstValues;
    const keys = this.#burstKeys;
    const times = this.#burstTimes;
    // records go straight to the queue only while none waits on disk (order)
    const direct = sp.diskOnly === 0;
    sp.begin();
    for (let i = 0; i < records.length; i++) {
      const r = records[i] as NetTCPConnect;
      const value = this.#encode(r);
      if (value === null) continue;
      const key = messageKey(strategy, r);
      if (value.length + (key === null ? 0 : key.length) > q.maxBytes) {
        q.drops.record_too_large++; // could never leave the spool for the queue
        continue;
      }
      const ts = Math.floor(r.timestamp / 1000);
      if (!sp.add(value, key, ts)) {
        sp.refuseRest(records.length - i - 1); // counted like this one, without encoding them
        break;
      }
      values.push(value);
      keys.push(key);
      times.push(ts);
    }
    const written = sp.commit();
    if (direct) {
      const now = performance.now();
      let placed = 0;
      while (placed < written) {
        const v = values[placed] as Buffer;
        const k = keys[placed] as string | null;
        if (!q.fits(v.length + (k === null ? 0 : k.length))) break;
        q.push(v, k, times[placed] as number, now);
        placed++;
      }
      sp.markRead(placed);
    }
    values.length = 0;
    keys.length = 0;
    times.length = 0;
  }

  /** Moves records only on disk into the queue while it has room (only when it is at most half full: one read fills it). */
  #refill(): void {
    const sp = this.#spool;
    const q = this.#queue;
    if (!sp || sp.diskOnly === 0 || q.length > q.maxRecords / 2 || q.bytes > q.maxBytes / 2) return;
    const now = performance.now();
    sp.read((value, key, ts) => {
      if (!q.fits(value.length + (key === null ? 0 : key.length))) return false;
      q.push(value, key, ts, now);
      return true;
    });
  }

  /**
   * Sends everything queued now, ignoring linger; resolves true when the queue
   * is empty and every batch is acknowledged (or given up), false on timeout.
   * With the spool, its cursor is written before it resolves true.
   */
  async flush(timeoutMs: number): Promise<boolean> {
    this.#flushing++;
    try {
      this.#schedule();
      const idle = await this.#waitIdle(timeoutMs);
      if (idle) this.#spool?.writeCursorNow();
      return idle;
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
    this.#delivery.stop();
    if (this.#lingerTimer) clearTimeout(this.#lingerTimer);
    this.#lingerTimer = null;
    if (!drained && this.#spool) {
      const kept = this.#spool.writeSeq - this.#spool.ackSeq;
      this.#queue.clear();
      this.#logger.warn({ kept, timeoutMs, directory: this.#spool.directory }, 'shutdown flush timed out: records kept in the spool for the next start');
    } else if (!drained) {
      const lost = this.#queue.clear() + this.#inFlightRecords;
      this.#drops.shutdown_unflushed += lost;
      this.#logger.warn({ lost, timeoutMs }, 'shutdown flush timed out: records not published');
    }
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
    this.#spool?.close();
  }

  /**
   * Sends messages to another topic through the same Kafka client, beside the
   * queue (the heartbeat's status records): not counted as records, not retried
   * (the caller's next message supersedes a failed one). Creates the topic first
   * when missing and kafka.createTopic allows it.
   */
  async sendAside(topic: string, messages: QueuedMessage[], partitions = 1): Promise<void> {
    if (!this.#started || this.#stopped) throw new SinkError('the Kafka sink is not running');
    if (!this.#asideTopics.has(topic)) {
      await this.#transport.ensureTopic(topic, partitions);
      this.#asideTopics.add(topic);
    }
    await this.#transport.send(messages, topic);
  }

  /** stats().droppedTotal without building the stats (the heartbeat reads it about once a second). */
  droppedTotal(): number {
    let n = this.#delivery.publishFailed;
    for (const r of DROP_REASONS) n += this.#drops[r] + this.#queue.drops[r] + (this.#spool?.drops[r] ?? 0);
    return n;
  }

  stats(): SinkStats {
    const d = this.#delivery;
    const drops = { ...this.#drops };
    drops.publish_failed += d.publishFailed;
    for (const r of DROP_REASONS) drops[r] += this.#queue.drops[r] + (this.#spool?.drops[r] ?? 0);
    return {
      queue: { records: this.#queue.length, bytes: this.#queue.bytes, maxRecords: this.#queue.maxRecords, maxBytes: this.#queue.maxBytes },
      drops,
      droppedTotal: this.droppedTotal(),
      pushed: this.#pushed,
      published: { ...d.published },
      publishErrors: d.publishErrors,
      resent: { ...d.resent },
      inFlight: { batches: this.#inFlightBatches, records: this.#inFlightRecords, since: d.inFlightSince },
      retrying: d.retrying,
      lastPublishAt: d.lastPublishAt,
      lastError: d.lastError,
      failingSince: d.failingSince,
      ackLatencyMs: d.ackLatency(),
      spool: this.#spool ? { ...this.#spool.stats(), maxBytes: this.#spool.maxBytes } : null,
    };
  }

  /** The record encoded, or null: it does not fit the encoding (counted as encode_failed). */
  #encode(r: NetTCPConnect): Buffer | null {
    try {
      return this.#encoder.encode(r);
    } catch (err) {
      this.#encodeFailed(r, err);
      return null;
    }
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
    while (this.#inFlightBatches < this.#maxInFlight) {
      this.#refill();
      if (q.length === 0) return;
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
    // the queue holds the spool's records [readSeq - length, readSeq)
    const firstSeq = this.#spool ? this.#spool.readSeq - this.#queue.length : 0;
    const { messages, bytes } = this.#queue.take(this.#batchRecords, this.#batchBytes);
    const batch: SinkBatch = { id: ++this.#batchSeq, topic: this.topic, messages, bytes, attempts: 0 };
    this.#inFlightBatches++;
    this.#inFlightRecords += messages.length;
    const ack = this.#spool ? { end: firstSeq + messages.length, done: false } : null;
    if (ack) this.#spoolAcks.push(ack);
    const p = this.#delivery.deliver(batch).finally(() => {
      // acknowledged or given up (counted); a batch cut short by stop() stays in the spool
      if (ack && !this.#stopped) this.#spoolAck(ack);
      this.#pending.delete(p);
      this.#inFlightBatches--;
      this.#inFlightRecords -= messages.length;
      this.#schedule();
      this.#checkIdle();
    });
    this.#pending.add(p);
  }

  #spoolAck(ack: { end: number; done: boolean }): void {
    ack.done = true;
    const acks = this.#spoolAcks;
    let upTo = -1;
    while (acks.length > 0 && (acks[0] as { done: boolean }).done) upTo = (acks.shift() as { end: number }).end;
    if (upTo >= 0) this.#spool?.ack(upTo);
  }

  #isIdle(): boolean {
    return this.#queue.length === 0 && this.#inFlightBatches === 0 && (this.#spool?.diskOnly ?? 0) === 0;
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
