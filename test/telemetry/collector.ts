// A real OpenTelemetry Collector for the telemetry tests: otelcorecol 0.165.0
// built by tools/otelcol/build.sh (core components, from the Go module proxy).
// It receives OTLP/HTTP and sends everything twice: to the `debug` exporter at
// detailed verbosity (its text, on stderr, is what a person reads) and through
// the `otlp_http` exporter with JSON encoding to a small HTTP server in the
// test process (what the assertions read).
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ExecutionContext } from 'ava';
import test from 'ava';
import { integrationTest, integrationRequired, type Need } from '../helpers/require.ts';
import { freePort } from './helpers.ts';

export const OTELCOL_VERSION = '0.165.0';
const BUILD = fileURLToPath(new URL('../../tools/otelcol/build.sh', import.meta.url));
const CACHE = process.env.CONNTRAIL_OTELCOL_CACHE ?? path.join(os.homedir(), '.cache', 'conntrail-otelcol');
export const OTELCOL_BIN = process.env.CONNTRAIL_OTELCOL_BIN ?? path.join(CACHE, `otelcorecol-${OTELCOL_VERSION}`);

function onPath(cmd: string): boolean {
  return (process.env.PATH ?? '').split(':').some((d) => d && existsSync(path.join(d, cmd)));
}

/** Why the collector cannot be had here, or undefined when it is built or can be built. */
export function collectorMissing(): string | undefined {
  if (existsSync(OTELCOL_BIN)) return undefined;
  if (onPath('go')) return undefined;
  return `the OpenTelemetry Collector is not built (${OTELCOL_BIN}) and go is not on PATH to build it: bash tools/otelcol/build.sh`;
}

/** Builds the collector if needed (about 2 minutes cold on 2 cores); resolves its path. */
export function ensureCollector(): Promise<string> {
  if (existsSync(OTELCOL_BIN)) return Promise.resolve(OTELCOL_BIN);
  return new Promise((resolve, reject) => {
    execFile('bash', [BUILD], { maxBuffer: 64 << 20, env: { ...process.env, CONNTRAIL_OTELCOL_CACHE: CACHE } }, (err, stdout, stderr) => {
      if (err) reject(new Error(`tools/otelcol/build.sh failed: ${err.message}\n${stderr.slice(-4000)}`));
      else resolve(stdout.trim().split('\n').pop()!);
    });
  });
}

/**
 * A test that needs the collector (built here when go is available) besides
 * `needs`: skipped when something is missing, failed under
 * CONNTRAIL_REQUIRE_INTEGRATION=1. Gives the test 15 minutes (a cold build).
 */
export async function collectorTest(
  name: string,
  needs: Need[],
  fn: (t: ExecutionContext) => Promise<void>,
): Promise<void> {
  const missing = collectorMissing();
  if (missing) {
    if (integrationRequired()) test.serial(name, (t) => t.fail(`needs: ${missing}`));
    else {
      console.log(`  skipped "${name}": ${missing}`);
      test.skip(name, () => {});
    }
    return;
  }
  await integrationTest(
    name,
    needs,
    async (t) => {
      t.timeout(15 * 60_000, 'building or running the OpenTelemetry Collector took too long');
      await fn(t);
    },
    { serial: true },
  );
}

/** OTLP/JSON as the collector's otlp_http exporter sends it (the parts the tests read). */
export interface OtlpAnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: OtlpAnyValue[] };
}
export interface OtlpKeyValue {
  key: string;
  value: OtlpAnyValue;
}
export interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes?: OtlpKeyValue[];
  links?: Array<{ traceId: string; spanId: string }>;
  status?: { code?: number; message?: string };
}
interface OtlpTraces {
  resourceSpans?: Array<{ resource?: { attributes?: OtlpKeyValue[] }; scopeSpans?: Array<{ spans?: OtlpSpan[] }> }>;
}
interface OtlpMetrics {
  resourceMetrics?: Array<{ scopeMetrics?: Array<{ metrics?: Array<{ name: string }> }> }>;
}

/** OTLP ids are base64 in some JSON encoders and hex in others: always give hex. */
export function hexId(id: string | undefined): string {
  if (!id) return '';
  return /^[0-9a-f]+$/i.test(id) && (id.length === 32 || id.length === 16) ? id.toLowerCase() : Buffer.from(id, 'base64').toString('hex');
}

export function attr(kvs: OtlpKeyValue[] | undefined, key: string): string | number | boolean | undefined {
  const v = kvs?.find((a) => a.key === key)?.value;
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.intValue !== undefined) return Number(v.intValue);
  if (v.doubleValue !== undefined) return v.doubleValue;
  return v.boolValue;
}

export interface RunningCollector {
  /** OTLP/HTTP endpoint to give conntrail (telemetry.otlpEndpoint). */
  endpoint: string;
  /** Spans received so far (through the collector). */
  spans(): OtlpSpan[];
  /** Resource attributes of the received spans. */
  resources(): OtlpKeyValue[][];
  /** Metric names received so far. */
  metricNames(): Set<string>;
  /** The debug exporter's text (detailed verbosity). */
  debugText(): string;
  /** Resolves when pred holds on the spans (or rejects after timeoutMs). */
  waitForSpans(pred: (spans: OtlpSpan[]) => boolean, timeoutMs?: number): Promise<OtlpSpan[]>;
  stop(): Promise<void>;
}

export async function startCollector(t: ExecutionContext): Promise<RunningCollector> {
  const bin = await ensureCollector();
  const traces: OtlpTraces[] = [];
  const metrics: OtlpMetrics[] = [];
  const sink = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
        if (req.url === '/v1/traces') traces.push(body as OtlpTraces);
        else if (req.url === '/v1/metrics') metrics.push(body as OtlpMetrics);
      } catch {
        /* not JSON: ignored */
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const sinkPort = (sink.address() as { port: number }).port;
  const otlpPort = await freePort();

  const dir = mkdtempSync(path.join(os.tmpdir(), 'conntrail-otelcol-'));
  const config = path.join(dir, 'config.yaml');
  writeFileSync(
    config,
    `receivers:
  otlp:
    protocols:
      http:
        endpoint: 127.0.0.1:${otlpPort}
exporters:
  debug:
    verbosity: detailed
  otlp_http/test:
    endpoint: http://127.0.0.1:${sinkPort}
    encoding: json
    compression: none
    retry_on_failure:
      enabled: false
    sending_queue:
      enabled: false
service:
  telemetry:
    metrics:
      level: none
  pipelines:
    traces:
      receivers: [otlp]
      exporters: [debug, otlp_http/test]
    metrics:
      receivers: [otlp]
      exporters: [debug, otlp_http/test]
`,
  );
  const child: ChildProcess = spawn(bin, ['--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  let text = '';
  child.stdout!.on('data', (c: Buffer) => (text += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (text += c.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    await new Promise((r) => sink.close(r));
  };
  t.teardown(stop);
  const deadline = Date.now() + 30_000;
  while (!text.includes('Everything is ready')) {
    if (child.exitCode !== null) throw new Error(`otelcorecol exited ${child.exitCode}:\n${text}`);
    if (Date.now() > deadline) throw new Error(`otelcorecol not ready in 30 s:\n${text}`);
    await new Promise((r) => setTimeout(r, 50));
  }

  const spans = (): OtlpSpan[] =>
    traces.flatMap((b) => (b.resourceSpans ?? []).flatMap((rs) => (rs.scopeSpans ?? []).flatMap((ss) => ss.spans ?? [])));
  return {
    endpoint: `http://127.0.0.1:${otlpPort}`,
    spans,
    resources: () => traces.flatMap((b) => (b.resourceSpans ?? []).map((rs) => rs.resource?.attributes ?? [])),
    metricNames: () =>
      new Set(metrics.flatMap((b) => (b.resourceMetrics ?? []).flatMap((rm) => (rm.scopeMetrics ?? []).flatMap((sm) => (sm.metrics ?? []).map((m) => m.name))))),
    debugText: () => text,
    async waitForSpans(pred, timeoutMs = 20_000) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        const s = spans();
        if (pred(s)) return s;
        if (Date.now() > end) throw new Error(`collector: spans not there in ${timeoutMs} ms; have ${s.length}: ${[...new Set(s.map((x) => x.name))].join(', ')}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    stop,
  };
}
