// Event and batch spans over capture -> enrich -> encode -> queue -> Kafka ack.
//
// Loaded only when telemetry is on (sdk.ts imports it dynamically).
//
// Per event: a countdown decides, so an unsampled event costs one decrement
// and one compare, and allocates nothing. A sampled event gets a span
// `create <topic>` (kind PRODUCER, the message's creation context in the
// messaging conventions) that starts at the kernel capture time and ends at
// the Kafka acknowledgement; its stages become child spans, created when the
// event ends (every timestamp is known then): `ringbuf` (kernel -> conntrail),
// `enrich`, `encode`, `queue wait` and `kafka ack` (linked to the batch span).
// Its traceparent goes into the Kafka message headers.
//
// Per batch send: a span `publish <topic>` (kind PRODUCER), always recorded,
// with links to the sampled events it carries, given at start.
import { createRequire } from 'node:module';
import type { Attributes, HrTime, Link, Span, SpanContext, Tracer } from '@opentelemetry/api';
import type { BatchTrace, EventStage, EventTrace, PipelineTracer } from './types.ts';

// The CommonJS build, as sdk.ts loads it (see there why): one copy of the API.
const { context, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace } =
  createRequire(import.meta.url)('@opentelemetry/api') as typeof import('@opentelemetry/api');

export interface PipelineTracerOptions {
  /** Share of events that get a trace, 0..1. */
  sampleRatio: number;
  /** Kafka topic (for the event spans' names and attributes). */
  topic: string;
  /**
   * At most this many event traces start per second, whatever the event rate
   * (each costs about a millisecond of CPU to build and export); undefined: no cap.
   */
  maxPerSecond?: number;
  /** Random source in [0, 1) (tests). */
  random?: () => number;
  /** Clock in ms for the per-second cap (tests). */
  clock?: () => number;
}

/** Wall clock now, as OpenTelemetry HrTime, with sub-millisecond precision. */
export function nowMs(): number {
  return performance.timeOrigin + performance.now();
}

export function msToHrTime(ms: number): HrTime {
  const s = Math.floor(ms / 1000);
  const ns = Math.round((ms - s * 1000) * 1e6);
  return ns >= 1e9 ? [s + 1, ns - 1e9] : [s, ns];
}

export function nsToHrTime(ns: bigint): HrTime {
  return [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)];
}

/** W3C traceparent for a span context. */
export function traceparentOf(sc: SpanContext): string {
  return `00-${sc.traceId}-${sc.spanId}-${(sc.traceFlags & 0xff).toString(16).padStart(2, '0')}`;
}

/** `error.type` for an error: a low-cardinality name (kafkajs error type/code, else the class name). */
export function errorType(error: unknown): string {
  if (error && typeof error === 'object') {
    const e = error as { type?: unknown; code?: unknown; name?: unknown; cause?: unknown };
    if (typeof e.type === 'string' && e.type) return e.type;
    if (typeof e.code === 'string' && e.code) return e.code;
    if (typeof e.name === 'string' && e.name && e.name !== 'Error') return e.name;
    return '_OTHER';
  }
  return typeof error === 'string' && error ? error : '_OTHER';
}

/**
 * Events between two samples: geometric with mean 1/ratio, so each event is
 * sampled independently with probability `ratio` while the per-event test is a
 * countdown.
 */
export function nextGap(ratio: number, random: () => number): number {
  if (!(ratio > 0)) return Number.POSITIVE_INFINITY;
  if (ratio >= 1) return 1;
  const u = 1 - random(); // (0, 1]
  return Math.floor(Math.log(u) / Math.log1p(-ratio)) + 1;
}

class SampledEvent implements EventTrace {
  readonly span: Span;
  readonly spanContext: SpanContext;
  readonly traceparent: string;
  ended = false;
  private readonly owner: OtelPipelineTracer;
  private readonly captureNs: bigint;
  private readonly receivedMs: number;
  private enrichedMs = 0;
  private encodedMs = 0;
  private queuedMs = 0;
  sentMs = 0;
  batchContext: SpanContext | null = null;

  constructor(owner: OtelPipelineTracer, captureNs: bigint, receivedMs: number) {
    this.owner = owner;
    this.captureNs = captureNs;
    this.receivedMs = receivedMs;
    this.span = owner.tracer.startSpan(
      `create ${owner.topic}`,
      {
        kind: SpanKind.PRODUCER,
        startTime: nsToHrTime(captureNs),
        root: true,
        attributes: owner.eventAttributes,
      },
      ROOT_CONTEXT,
    );
    this.spanContext = this.span.spanContext();
    this.traceparent = traceparentOf(this.spanContext);
  }

  mark(stage: EventStage, timeMs?: number): void {
    const t = timeMs ?? nowMs();
    if (stage === 'enriched') this.enrichedMs = t;
    else if (stage === 'encoded') this.encodedMs = t;
    else this.queuedMs = t;
  }

  setAttributes(attributes: Attributes): void {
    if (!this.ended) this.span.setAttributes(attributes);
  }

  headers(): Record<string, string> {
    const ts = this.spanContext.traceState?.serialize();
    return ts ? { traceparent: this.traceparent, tracestate: ts } : { traceparent: this.traceparent };
  }

  dropped(reason: string): void {
    this.finish(nowMs(), reason, undefined);
  }

  /** End the event: child spans for each stage, then the event span at `endMs`. */
  finish(endMs: number, failure: string | undefined, error: unknown): void {
    if (this.ended) return;
    this.ended = true;
    const tracer = this.owner.tracer;
    const parent = trace.setSpan(ROOT_CONTEXT, this.span);
    const captureMs = Number(this.captureNs / 1000n) / 1000;
    const captureHr = nsToHrTime(this.captureNs);
    let from = captureMs;
    const startOf = (ms: number): HrTime => (ms === captureMs ? captureHr : msToHrTime(ms));
    const child = (name: string, untilMs: number): void => {
      if (!(untilMs > 0)) return;
      const to = Math.max(untilMs, from);
      tracer.startSpan(name, { kind: SpanKind.INTERNAL, startTime: startOf(from) }, parent).end(startOf(to));
      from = to;
    };
    child('ringbuf', this.receivedMs);
    child('enrich', this.enrichedMs);
    child('encode', this.encodedMs);
    // Time in the queue: from enqueue (or the end of encoding) to the send.
    if (this.queuedMs > 0) from = Math.max(from, this.queuedMs);
    child('queue wait', this.sentMs);
    if (this.sentMs > 0) {
      const ack = tracer.startSpan(
        'kafka ack',
        {
          kind: SpanKind.INTERNAL,
          startTime: startOf(from),
          links: this.batchContext ? [{ context: this.batchContext }] : undefined,
        },
        parent,
      );
      if (failure !== undefined) ack.setStatus({ code: SpanStatusCode.ERROR });
      ack.end(startOf(Math.max(endMs, from)));
    }
    if (failure !== undefined) {
      this.span.setAttribute('error.type', failure);
      if (error !== undefined && error instanceof Error) this.span.recordException(error);
      this.span.setStatus({
        code: SpanStatusCode.ERROR,
        message: error instanceof Error ? error.message : failure,
      });
    }
    this.span.end(startOf(Math.max(endMs, from)));
  }
}

class OtelBatch implements BatchTrace {
  private readonly span: Span;
  private readonly sampled: readonly SampledEvent[];
  private done = false;

  constructor(span: Span, sampled: readonly SampledEvent[]) {
    this.span = span;
    this.sampled = sampled;
  }

  end(error?: unknown, timeMs?: number): void {
    if (this.done) return;
    this.done = true;
    const t = timeMs ?? nowMs();
    let failure: string | undefined;
    if (error !== undefined && error !== null) {
      failure = errorType(error);
      this.span.setAttribute('error.type', failure);
      if (error instanceof Error) this.span.recordException(error);
      this.span.setStatus({
        code: SpanStatusCode.ERROR,
        message: error instanceof Error ? error.message : String(error),
      });
    }
    this.span.end(msToHrTime(t));
    for (const e of this.sampled) e.finish(t, failure, error);
  }

  with<T>(fn: () => T): T {
    return context.with(trace.setSpan(context.active(), this.span), fn);
  }
}

export class OtelPipelineTracer implements PipelineTracer {
  readonly enabled = true;
  readonly tracer: Tracer;
  readonly topic: string;
  readonly eventAttributes: Attributes;
  private readonly ratio: number;
  private readonly random: () => number;
  private readonly maxPerSecond: number;
  private readonly clock: () => number;
  private countdown: number;
  private capSecond = -1;
  private tracedThisSecond = 0;
  /** Events the ratio picked but the per-second cap left untraced. */
  capped = 0;

  constructor(tracer: Tracer, options: PipelineTracerOptions) {
    this.tracer = tracer;
    this.topic = options.topic;
    this.ratio = options.sampleRatio;
    this.random = options.random ?? Math.random;
    this.maxPerSecond = options.maxPerSecond ?? Number.POSITIVE_INFINITY;
    this.clock = options.clock ?? Date.now;
    this.countdown = nextGap(this.ratio, this.random);
    this.eventAttributes = {
      'messaging.system': 'kafka',
      'messaging.operation.type': 'create',
      'messaging.operation.name': 'create',
      'messaging.destination.name': options.topic,
    };
  }

  sampleEvent(captureTime: bigint | number, receivedMs?: number): EventTrace | null {
    if (--this.countdown > 0) return null;
    this.countdown = nextGap(this.ratio, this.random);
    // the cap is checked only for the events the ratio picked: no clock read per event
    const second = Math.floor(this.clock() / 1000);
    if (second !== this.capSecond) {
      this.capSecond = second;
      this.tracedThisSecond = 0;
    }
    if (this.tracedThisSecond >= this.maxPerSecond) {
      this.capped++;
      return null;
    }
    this.tracedThisSecond++;
    const ns = typeof captureTime === 'bigint' ? captureTime : BigInt(Math.round(captureTime)) * 1000n;
    return new SampledEvent(this, ns, receivedMs ?? nowMs());
  }

  startBatch(topic: string, messageCount: number, sampled: readonly EventTrace[], bytes?: number): BatchTrace {
    const events = sampled as readonly SampledEvent[];
    const links: Link[] = [];
    for (const e of events) links.push({ context: e.spanContext });
    const attributes: Attributes = {
      'messaging.system': 'kafka',
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'publish',
      'messaging.destination.name': topic,
      'messaging.batch.message_count': messageCount,
    };
    if (bytes !== undefined) attributes['conntrail.batch.bytes'] = bytes;
    const span = this.tracer.startSpan(
      `publish ${topic}`,
      { kind: SpanKind.PRODUCER, root: true, links, attributes },
      ROOT_CONTEXT,
    );
    const sent = nowMs();
    const ctx = span.spanContext();
    for (const e of events) {
      e.sentMs = sent;
      e.batchContext = ctx;
    }
    return new OtelBatch(span, events);
  }
}

export function createPipelineTracer(tracer: Tracer, options: PipelineTracerOptions): PipelineTracer {
  return new OtelPipelineTracer(tracer, options);
}
