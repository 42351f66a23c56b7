// /healthz, /readyz and `conntrail status` against the real `conntrail run`
// (its own process, real capture): ready while attached and publishing to the
// real local Kafka (Avro through the real registry); not ready, with the
// reason, while Kafka is unreachable (a closed port: the shared stack is never
// stopped), telemetry off there too (the endpoint stays); `status` exit codes.
import { spawn, execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ExecutionContext } from 'ava';
import test from 'ava';
import { freeLocalPort, startConntrail } from '../helpers/conntrail-process.ts';
import { brokerList, integrationTest, KAFKA_BROKERS, REGISTRY_URL } from '../helpers/require.ts';
import type { Liveness, Readiness } from '../../producer/health.ts';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'conntrail-health-'));

function configFile(config: unknown): string {
  const file = path.join(tmp, `${randomUUID()}.json`);
  fs.writeFileSync(file, JSON.stringify(config));
  return file;
}

/** `conntrail status` with this config: its exit code and stdout. */
function status(config: unknown, ...args: string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['producer/cli.ts', 'status', '--config', configFile(config), ...args], { timeout: 30_000 }, (err, stdout) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? -1) : 0, out: stdout });
    });
  });
}

async function get<T>(url: string): Promise<{ status: number; body: T; type: string | null }> {
  const res = await fetch(url);
  const type = res.headers.get('content-type');
  const text = await res.text();
  return { status: res.status, body: (type?.startsWith('application/json') ? JSON.parse(text) : text) as T, type };
}

/** `conntrail run` up to the attach line (it may never publish: Kafka is unreachable). */
async function startUntilAttached(t: ExecutionContext, config: unknown): Promise<{ lines: string[]; exited: Promise<number | null>; child: ReturnType<typeof spawn> }> {
  const child = spawn(process.execPath, ['producer/cli.ts', 'run', '--config', configFile(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no attach line within 60 s:\n${lines.join('\n')}`)), 60_000);
    let buffered = '';
    const onData = (chunk: Buffer): void => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      lines.push(...parts);
      if (parts.some((l) => /connect probe \w+ attached/.test(l))) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => { clearTimeout(timer); reject(new Error(`conntrail exited ${code}:\n${lines.join('\n')}`)); });
  });
  return { lines, exited, child };
}

await integrationTest('attached and publishing to the real Kafka: /healthz 200, /readyz 200 with every check ok, /metrics, status exit 0', ['root', 'bpf', 'kafka', 'registry'], async (t) => {
  const port = await freeLocalPort();
  const config = {
    kafka: { brokers: brokerList(KAFKA_BROKERS), topic: `health-${randomUUID().slice(0, 8)}`, batch: { lingerMs: 5 } },
    registry: { url: REGISTRY_URL },
    telemetry: { enabled: true, prometheusPort: port },
    log: { statsIntervalSec: 0 },
  };
  const run = await startConntrail(t, config);
  const base = `http://127.0.0.1:${port}`;

  const live = await get<Liveness>(`${base}/healthz`);
  t.is(live.status, 200);
  t.is(live.type, 'application/json; charset=utf-8');
  t.is(live.body.status, 'alive');
  t.is(live.body.pid, run.child.pid!);
  t.true(live.body.eventLoopDelayMs.max >= 0);

  // ready once a batch went through (the probe's own connects give it records)
  let ready = await get<Readiness>(`${base}/readyz`);
  for (let i = 0; i < 50 && !(ready.status === 200 && /acknowledged/.test(ready.body.checks.kafka?.detail ?? '')); i++) {
    await fetch('http://127.0.0.1:9/').catch(() => {}); // a connect to capture
    await sleep(100);
    ready = await get<Readiness>(`${base}/readyz`);
  }
  t.is(ready.status, 200, JSON.stringify(ready.body));
  t.true(ready.body.ready);
  t.deepEqual(ready.body.reasons, []);
  t.deepEqual(Object.keys(ready.body.checks), ['capture', 'registry', 'kafka', 'queue']);
  t.true(Object.values(ready.body.checks).every((c) => c.ok));
  t.regex(ready.body.checks.capture!.detail, /^connect probe \w+ attached$/);
  t.regex(ready.body.checks.kafka!.detail, /^last batch acknowledged \d+ s ago$/);

  const metrics = await get<string>(`${base}/metrics`);
  t.is(metrics.status, 200);
  t.regex(metrics.body, /conntrail_publish_records_total/);
  t.is((await get<string>(`${base}/nope`)).status, 404);

  const s = await status(config);
  t.is(s.code, 0, s.out);
  t.regex(s.out, new RegExp(`^conntrail at ${base}: alive \\(pid ${run.child.pid}, up \\d+ s\\), ready\\n`));
  t.regex(s.out, /\n {2}kafka +ok {4}last batch acknowledged/);
  const js = await status(config, '--json');
  t.is(js.code, 0);
  const report = JSON.parse(js.out) as { ready: boolean; reachable: boolean; readiness: Readiness };
  t.true(report.ready && report.reachable);
  t.true(report.readiness.checks.kafka!.ok);

  // stopping: SIGTERM flushes and exits 0
  run.child.kill('SIGTERM');
  t.is(await run.exited, 0);
  t.is((await status(config)).code, 1, 'nothing answers any more');
});

await integrationTest('Kafka unreachable (a closed port), telemetry off: /healthz 200, /readyz 503 naming Kafka, status exit 1', ['root', 'bpf'], async (t) => {
  const port = await freeLocalPort();
  const deadKafka = await freeLocalPort();
  const config = {
    kafka: { brokers: [`127.0.0.1:${deadKafka}`] },
    encoding: { format: 'ecs-json' },
    telemetry: { enabled: false, prometheusPort: port },
    log: { statsIntervalSec: 0 },
  };
  const run = await startUntilAttached(t, config);
  const base = `http://127.0.0.1:${port}`;

  t.is((await get<Liveness>(`${base}/healthz`)).status, 200);
  const ready = await get<Readiness>(`${base}/readyz`);
  t.is(ready.status, 503);
  t.false(ready.body.ready);
  t.true(ready.body.checks.capture!.ok);
  t.false(ready.body.checks.kafka!.ok);
  t.deepEqual(ready.body.reasons, [`kafka: connecting to 127.0.0.1:${deadKafka}`]);
  const metrics = await get<string>(`${base}/metrics`);
  t.is(metrics.status, 404, 'telemetry off: no metrics, but the probes are there');
  t.regex(metrics.body, /telemetry is off/);

  const s = await status(config);
  t.is(s.code, 1);
  t.regex(s.out, /: alive \(pid \d+, up \d+ s\), NOT READY\n/);
  t.regex(s.out, new RegExp(`\\n {2}kafka +FAIL {2}connecting to 127\\.0\\.0\\.1:${deadKafka}\\n`));
  const js = JSON.parse((await status(config, '--json')).out) as { ready: boolean; reachable: boolean };
  t.deepEqual([js.reachable, js.ready], [true, false]);

  // kafkajs's connection errors while it retries: warnings, not errors
  const errorLines = run.lines.filter((l) => /"level":50/.test(l));
  t.deepEqual(errorLines, []);
  t.true(run.lines.some((l) => /"level":40/.test(l) && /"component":"kafkajs"/.test(l) && /ECONNREFUSED/.test(l)), run.lines.join('\n'));
  run.child.kill('SIGKILL');
});

test('status: nothing listening is exit 1, "not reachable"; prometheusPort 0 says there is no endpoint', async (t) => {
  const port = await freeLocalPort();
  const s = await status({ telemetry: { prometheusPort: port } });
  t.is(s.code, 1);
  t.regex(s.out, new RegExp(`^conntrail at http://127\\.0\\.0\\.1:${port}: not reachable: .*ECONNREFUSED`));
  const js = JSON.parse((await status({ telemetry: { prometheusPort: port } }, '--json')).out) as { reachable: boolean; ready: boolean; error: string };
  t.deepEqual([js.reachable, js.ready], [false, false]);
  const off = await status({ telemetry: { prometheusPort: 0 } });
  t.is(off.code, 1);
  t.regex(off.out, /telemetry\.prometheusPort is 0/);
});
