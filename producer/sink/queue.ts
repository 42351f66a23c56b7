// Bounded queue between enrichment and Kafka: a ring buffer of slots
// (parallel arrays, no per-record node, no O(n) shift), bounded in records
// (queue.maxRecords) and encoded bytes (queue.maxBytes). The slots start at
// INITIAL_SLOTS and double when full, up to maxRecords: a quiet host does not
// hold the ~7 MiB that 200,000 slots take, and a busy one allocates only log2
// times. push() never blocks: when a bound is hit the policy decides what is
// dropped, and every drop is counted by reason.

export const QUEUE_POLICIES = ['drop-newest', 'drop-oldest'] as const;
export type QueuePolicy = (typeof QUEUE_POLICIES)[number];

/**
 * Why records were lost. Queue reasons: queue_full_records / queue_full_bytes
 * (a bound was hit; with drop-newest the new record is dropped, with
 * drop-oldest the oldest queued one), record_too_large (one record larger than
 * queue.maxBytes: it can never fit). Sink reasons: encode_failed (the record
 * did not fit the writer schema), publish_failed (Kafka refused the batch with a
 * non-retriable error), shutdown_unflushed (still queued or unacknowledged when
 * the shutdown flush timed out). Spool reasons (sink/spool): spool_full (the
 * spool hit spool.maxBytes; its policy dropped the new record or the oldest
 * segment's unread ones), spool_corrupt (records found damaged on disk and
 * skipped: a torn write, a bad CRC or length, an unreadable segment; those of a
 * damaged region found at start are estimated from its size), spool_write_failed
 * (the write to the segment failed: disk full, I/O error).
 */
export const DROP_REASONS = [
  'queue_full_records', 'queue_full_bytes', 'record_too_large',
  'encode_failed', 'publish_failed', 'shutdown_unflushed',
  'spool_full', 'spool_corrupt', 'spool_write_failed',
] as const;
export type DropReason = (typeof DROP_REASONS)[number];
export type DropCounts = Record<DropReason, number>;

export function emptyDropCounts(): DropCounts {
  return Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as DropCounts;
}

/** Slots allocated when the queue is made (doubled when full, up to maxRecords). */
export const INITIAL_SLOTS = 1024;

export interface QueueOptions {
  /** Most records held (queue.maxRecords). */
  maxRecords: number;
  /** Most bytes held, counting value and key lengths (queue.maxBytes). */
  maxBytes: number;
  /** What a full queue drops (queue.policy). Default drop-newest. */
  policy?: QueuePolicy;
}

/** One Kafka message as kafkajs wants it (a plain object, built once per record at dequeue). */
export interface QueuedMessage {
  key: string | null;
  value: Buffer;
  /** Event time, epoch milliseconds, as a string (kafkajs's type). */
  timestamp: string;
  headers?: Record<string, string | Buffer>;
}

export class RecordQueue {
  readonly maxRecords: number;
  readonly maxBytes: number;
  readonly policy: QueuePolicy;
  /** Drops counted by this queue (queue_full_records, queue_full_bytes, record_too_large). */
  readonly drops: DropCounts = emptyDropCounts();

  #values: (Buffer | undefined)[];
  #keys: (string | null)[];
  #timestamps: Float64Array;
  #enqueuedAt: Float64Array;
  #sizes: Uint32Array;
  /** Slots allocated: the ring's length. */
  #slots: number;
  #head = 0;
  #length = 0;
  #bytes = 0;

  constructor(options: QueueOptions) {
    if (!(Number.isInteger(options.maxRecords) && options.maxRecords > 0)) throw new RangeError('maxRecords must be a positive integer');
    if (!(Number.isInteger(options.maxBytes) && options.maxBytes > 0)) throw new RangeError('maxBytes must be a positive integer');
    this.maxRecords = options.maxRecords;
    this.maxBytes = options.maxBytes;
    this.policy = options.policy ?? 'drop-newest';
    const n = Math.min(INITIAL_SLOTS, options.maxRecords);
    this.#slots = n;
    this.#values = new Array<Buffer | undefined>(n).fill(undefined);
    this.#keys = new Array<string | null>(n).fill(null);
    this.#timestamps = new Float64Array(n);
    this.#enqueuedAt = new Float64Array(n);
    this.#sizes = new Uint32Array(n);
  }

  /** Slots allocated now (grows to maxRecords with the load; for stats and tests). */
  get slots(): number { return this.#slots; }

  /** Records queued. */
  get length(): number { return this.#length; }
  /** Bytes queued (values + keys). */
  get bytes(): number { return this.#bytes; }
  /** True when no record can be added without a drop (record bound). */
  get fullRecords(): boolean { return this.#length >= this.maxRecords; }
  /** True when a record of `size` bytes (value + key) fits now without a drop. */
  fits(size: number): boolean { return this.#length < this.maxRecords && this.#bytes + size <= this.maxBytes; }
  /** When the oldest queued record was pushed (the caller's clock), or -1 when empty. */
  get headEnqueuedAt(): number { return this.#length === 0 ? -1 : (this.#enqueuedAt[this.#head] as number); }

  /**
   * Adds one record; never blocks. Returns false when this record was dropped
   * (drop-newest on a full queue, or a record larger than maxBytes). With
   * drop-oldest, older records are dropped to make room and true is returned.
   * `enqueuedAt` is the caller's clock (e.g. performance.now()), used for linger.
   */
  push(value: Buffer, key: string | null, timestampMs: number, enqueuedAt: number): boolean {
    const size = value.length + (key === null ? 0 : key.length);
    if (size > this.maxBytes) {
      this.drops.record_too_large++;
      return false;
    }
    if (this.#length >= this.maxRecords) {
      if (this.policy === 'drop-newest') {
        this.drops.queue_full_records++;
        return false;
      }
      this.#dropHead();
      this.drops.queue_full_records++;
    }
    if (this.#bytes + size > this.maxBytes) {
      if (this.policy === 'drop-newest') {
        this.drops.queue_full_bytes++;
        return false;
      }
      while (this.#bytes + size > this.maxBytes) {
        this.#dropHead();
        this.drops.queue_full_bytes++;
      }
    }
    if (this.#length === this.#slots) this.#grow();
    let tail = this.#head + this.#length;
    if (tail >= this.#slots) tail -= this.#slots;
    this.#values[tail] = value;
    this.#keys[tail] = key;
    this.#timestamps[tail] = timestampMs;
    this.#enqueuedAt[tail] = enqueuedAt;
    this.#sizes[tail] = size;
    this.#length++;
    this.#bytes += size;
    return true;
  }

  /**
   * Removes up to maxRecords records / maxBytes bytes from the head (always at
   * least one when not empty) and returns them as kafkajs messages, oldest
   * first, with the bytes they counted.
   */
  take(maxRecords: number, maxBytes: number): { messages: QueuedMessage[]; bytes: number } {
    const out: QueuedMessage[] = [];
    let taken = 0;
    while (this.#length > 0 && out.length < maxRecords) {
      const h = this.#head;
      const size = this.#sizes[h] as number;
      if (out.length > 0 && taken + size > maxBytes) break;
      out.push({ key: this.#keys[h] as string | null, value: this.#values[h] as Buffer, timestamp: String(this.#timestamps[h]) });
      taken += size;
      this.#release(h, size);
    }
    return { messages: out, bytes: taken };
  }

  /** Empties the queue; returns the number of records removed (not counted as drops). */
  clear(): number {
    const n = this.#length;
    while (this.#length > 0) this.#release(this.#head, this.#sizes[this.#head] as number);
    return n;
  }

  /** Doubles the slots (up to maxRecords), the queued records moved to 0..length-1 in order. */
  #grow(): void {
    const n = Math.min(this.#slots * 2, this.maxRecords);
    const values = new Array<Buffer | undefined>(n).fill(undefined);
    const keys = new Array<string | null>(n).fill(null);
    const timestamps = new Float64Array(n);
    const enqueuedAt = new Float64Array(n);
    const sizes = new Uint32Array(n);
    for (let i = 0, h = this.#head; i < this.#length; i++, h = h + 1 === this.#slots ? 0 : h + 1) {
      values[i] = this.#values[h];
      keys[i] = this.#keys[h] as string | null;
      timestamps[i] = this.#timestamps[h] as number;
      enqueuedAt[i] = this.#enqueuedAt[h] as number;
      sizes[i] = this.#sizes[h] as number;
    }
    this.#values = values;
    this.#keys = keys;
    this.#timestamps = timestamps;
    this.#enqueuedAt = enqueuedAt;
    this.#sizes = sizes;
    this.#slots = n;
    this.#head = 0;
  }

  #dropHead(): void {
    this.#release(this.#head, this.#sizes[this.#head] as number);
  }

  #release(h: number, size: number): void {
    this.#values[h] = undefined;
    this.#keys[h] = null;
    this.#bytes -= size;
    this.#length--;
    this.#head = h + 1 === this.#slots ? 0 : h + 1;
  }
}
