// TOCTOU, proven: connect() while another thread rewrites the user-space
// sockaddr (bpf/tools/toctou-connect.c). Every rung that reads the kernel's
// copy of the address must report the port the kernel really connected to
// (getpeername) for every connect; the tracepoint rung, which reads user
// memory first, flags every record as open to the race.
import { fileURLToPath } from 'node:url';
import { Collector, captureTest, run } from './support.ts';
import { kernelExpectation } from './kernels.ts';

const TOOL = fileURLToPath(new URL('../../bpf/.output/toctou-connect', import.meta.url));
const N = 1000;
const k = kernelExpectation();
const rungs = typeof k === 'string' ? ['cgroup' as const] : k.works;

for (const probe of rungs) {
  const safe = probe !== 'tracepoint';
  await captureTest(`${probe}: connects under a rewritten sockaddr ${safe ? 'report the address the kernel connected to' : 'are flagged as open to the race'}`, async (t) => {
    if (typeof k === 'string') return t.fail(k);
    const c = new Collector({ ladder: [probe], captureDns: false });
    t.teardown(() => c.stop());
    const r = await run(TOOL, ['-n', String(N)], { timeoutMs: 120_000 });
    t.is(r.code, 0, r.stderr);
    const [head, ...lines] = r.stdout.trim().split('\n');
    const ports = head!.split(' ').slice(1).map(Number);
    const peers = lines.map(Number);
    // the tool goes on past N until the flipper has been seen to win at least once
    t.true(peers.length >= N, `${peers.length} connects`);
    t.true(ports.every((p) => peers.includes(p)), 'the rewrite was live: the kernel connected to both ports');
    const records = await c.waitFor(`${peers.length} connects`, () => {
      const got = c.connects((e) => e.pid === r.pid && e.family === 2);
      return got.length >= peers.length && got;
    }, 30_000);
    t.is(records.length, peers.length);
    const mismatches = records.filter((e, i) => e.dstPort !== peers[i]).length;
    if (safe) {
      t.is(mismatches, 0, 'every record has the port the kernel connected to');
      t.true(records.every((e) => !e.toctou));
    } else {
      t.true(records.every((e) => e.toctou), 'every tracepoint record is flagged');
      t.log(`tracepoint: ${mismatches} of ${records.length} records name a port the kernel did not connect to`);
    }
  });
}
