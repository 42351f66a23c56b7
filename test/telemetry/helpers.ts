// Shared helpers of the telemetry tests.
import net from 'node:net';
import type { TelemetryConfig } from '../../producer/telemetry/sdk.ts';

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
    sampleRatio: 0.001,
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
