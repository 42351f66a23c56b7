// The attach ladder: the default ladder falls back and reports why each rung
// before the winner failed (which rung must win on which kernel: rungs.test.ts).
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { DEFAULT_LADDER, openCapture } from 'bpf-native-loader';
import { Collector, captureTest, flood, refusedPort, sh } from './support.ts';

await captureTest('the default ladder falls back and reports each failed rung with errno and a sentence', async (t) => {
  const c = new Collector({ excludeSelf: true });
  t.teardown(() => c.stop());
  const attempts = c.source.attempts;
  const winner = attempts.at(-1)!;
  t.true(winner.ok);
  t.is(winner.probe, c.source.probe);
  t.deepEqual(attempts.map((a) => a.probe), DEFAULT_LADDER.slice(0, attempts.length), 'tried in ladder order');
  for (const a of attempts.slice(0, -1)) {
    t.false(a.ok);
    t.true((a.errno ?? 0) > 0, `${a.probe} errno`);
    t.regex(a.code ?? '', /^E[A-Z0-9]+$/, `${a.probe} code`);
    t.true((a.reason ?? '').length > 10, `${a.probe} reason`);
  }
  const report = c.source.report();
  t.regex(report[0]!, new RegExp(`connect probe ${winner.probe} attached`));
  for (const a of attempts.slice(0, -1)) {
    t.true(report.some((l) => l.includes(`${a.probe} (`) && l.includes(a.code!) && l.includes(a.reason!)), `report line for ${a.probe}`);
  }
  t.log(report.join('\n'));
  // records say which probe produced them
  const port = await refusedPort();
  const r = await flood('127.0.0.1', port);
  const ev = await c.waitFor('a connect', () => c.connects((e) => e.pid === r.pid).at(0));
  t.is(ev.probe, winner.probe);
});

await captureTest('the tracepoint rung works and flags its records as TOCTOU-prone', async (t) => {
  const hadTracefs = existsSync('/sys/kernel/tracing/events');
  const c = new Collector({ ladder: ['tracepoint'] });
  t.teardown(async () => {
    await c.stop();
    if (!hadTracefs) { try { sh('umount', ['/sys/kernel/tracing']); } catch { /* busy: leave it */ } }
  });
  t.is(c.source.probe, 'tracepoint');
  t.log(c.source.report().join('\n'));
  const port = await refusedPort();
  const r = await flood('::1', port);
  const ev = await c.waitFor('a tracepoint connect', () => c.connects((e) => e.pid === r.pid).at(0));
  t.is(ev.probe, 'tracepoint');
  t.true(ev.toctou);
  t.is(ev.dstIP, '::1');
  t.is(ev.dstPort, port);
  t.is(ev.sockType, 1);
  t.is(ev.protocol, 6);
  t.true(ev.netnsCookie > 0);
});

await captureTest('bad options are refused before anything is loaded', (t) => {
  t.throws(() => openCapture({ ringBytes: 5000, onBatch() {} }), { instanceOf: RangeError });
  t.throws(() => openCapture({ excludeCidrs: ['10.0.0.0/33'], onBatch() {} }), { instanceOf: RangeError });
  t.throws(() => openCapture({ ladder: ['nope' as 'lsm'], onBatch() {} }), { instanceOf: RangeError });
});

await captureTest('the programs load under a CPU profiler (its signals do not abort the verifier)', async (t) => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'conntrail-prof-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const fixture = path.join(import.meta.dirname, 'fixtures', 'open-under-profiler.ts');
  // a sample every 50 µs: SIGPROF arrives many times during one verification
  const { stdout } = await promisify(execFile)(process.execPath, ['--cpu-prof', '--cpu-prof-interval', '50', '--cpu-prof-dir', dir, fixture], { timeout: 60_000 });
  const out = JSON.parse(stdout.trim().split('\n').at(-1)!) as { ok: boolean; probe?: string; message?: string };
  t.true(out.ok, out.message);
  t.is(out.probe, 'cgroup');
});
