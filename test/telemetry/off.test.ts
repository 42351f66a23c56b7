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

test('telemetry on: the SDK is loaded (dynamically, by startTelemetry)', (t) => {
  const on = run('on');
  t.true(on.telemetry);
  t.false(on.tracerEnabled, 'no trace exporter configured: the no-op tracer');
  t.true(on.packages.includes('@opentelemetry/sdk-node'));
});
