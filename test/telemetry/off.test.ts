// Telemetry off costs nothing: startTelemetry() returns null without loading
// a single OpenTelemetry module, and the no-op tracer is what run.ts uses.
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const SCRIPT = fileURLToPath(new URL('./fixtures/off-loads.ts', import.meta.url));
const run = (mode: string) =>
  JSON.parse(execFileSync(process.execPath, [SCRIPT, mode], { encoding: 'utf8' }).trim().split('\n').pop()!) as {
    telemetry: boolean;
    tracerEnabled: boolean;
    packages: string[];
  };

test('telemetry.enabled=false: no OpenTelemetry module is loaded', (t) => {
  t.deepEqual(run('off'), { telemetry: false, tracerEnabled: false, packages: [] });
});

test('telemetry on, metrics only: the metrics SDK is loaded, not the NodeSDK with its trace and log packages', (t) => {
  const on = run('on');
  t.true(on.telemetry);
  t.false(on.tracerEnabled, 'no trace exporter configured: the no-op tracer');
  t.true(on.packages.includes('@opentelemetry/sdk-metrics'));
  for (const p of ['@opentelemetry/sdk-node', '@opentelemetry/sdk-trace-base', '@opentelemetry/sdk-logs']) t.false(on.packages.includes(p), p);
});

test('telemetry on with an OTLP endpoint: the NodeSDK is loaded (dynamically, by startTelemetry)', (t) => {
  const on = run('traces');
  t.true(on.telemetry);
  t.true(on.tracerEnabled);
  t.true(on.packages.includes('@opentelemetry/sdk-node'));
});
