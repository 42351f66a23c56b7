// Shared helpers of the telemetry tests.
import net from 'node:net';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { loadConfig } from '../../producer/config/load.ts';
import type { SinkTransport } from '../../producer/sink/kafka.ts';
import type { QueuedMessage } from '../../producer/sink/queue.ts';
import type { TelemetryConfig } from '../../producer/telemetry/sdk.ts';
import { createPipelineTracer } from '../../producer/telemetry/tracing.ts';

/** A TCP port free on 127.0.0.1 right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export function telemetryConfig(over: Partial<TelemetryConfig> = {}): TelemetryConfig {
  return {
    enabled: true,
    otlpEndpoint: '',
    sampleRatio: 0.001, maxTracedEventsPerSecond: 20,
    prometheusPort: 0,
    prometheusHost: '127.0.0.1',
    kafkajsInstrumentation: false,
    ...over,
  };
}

/** Parse a Prometheus text exposition into `name{labels}` -> value (labels sorted, otel_scope_* left out). */
export function parsePrometheus(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (!line || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels = (m[3] ?? '')
      .split(/,(?=[a-zA-Z_]+=")/)
      .filter((l) => l && !l.startsWith('otel_scope_'))
      .sort();
    out.set(labels.length ? `${m[1]}{${labels.join(',')}}` : m[1]!, Number(m[4]));
  }
  return out;
}

export async function scrape(url: string): Promise<Map<string, number>> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`scrape ${url}: HTTP ${res.status}`);
  return parsePrometheus(await res.text());
}

/** The kafka + queue sections of the default config with `overrides`. */
export function sinkConfig(overrides: Record<string, unknown> = {}) {
  return loadConfig({ env: {}, overrides }).config;
}

/** The pipeline tracer on the real SDK with an in-memory exporter. */
export function memoryTracing(sampleRatio: number, topic: string) {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const tracer = createPipelineTracer(provider.getTracer('conntrail'), { sampleRatio, topic });
  const finished = async (): Promise<ReadableSpan[]> => {
    await provider.forceFlush();
    return exporter.getFinishedSpans();
  };
  return { tracer, finished };
}

export const spanId = (s: ReadableSpan): string => s.spanContext().spanId;

/** A Kafka transport that acknowledges every batch after a few ms and keeps it. */
export class FakeTransport implements SinkTransport {
  sent: QueuedMessage[][] = [];
  async connect(): Promise<void> {}
  async ensureTopic(): Promise<void> {}
  async disconnect(): Promise<void> {}
  async send(messages: QueuedMessage[]): Promise<unknown> {
    await new Promise((r) => setTimeout(r, 2));
    this.sent.push(messages.slice());
    return [];
  }
}

/** `count` TCP connects from this process, one at a time, to a listener on `host`; resolves its port. */
export async function connectTimes(count: number, host = '127.0.0.1'): Promise<number> {
  const server = net.createServer((s) => s.destroy());
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as net.AddressInfo).port;
  for (let i = 0; i < count; i++) {
    await new Promise<void>((resolve, reject) => {
      const s = net.connect(port, host, () => {
        s.destroy();
        resolve();
      });
      s.on('error', reject);
    });
  }
  server.close();
  return port;
}
