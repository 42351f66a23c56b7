// Every rung on this kernel, against its row in kernels.ts: the default ladder
// picks the expected rung (a lower rung winning fails), each rung that must
// work captures TCP connects over IPv4 and IPv6 with the right fields when
// forced, each rung that must fail says why, and the DNS program loads beside
// any rung. Runs on the host and in every VM of npm run test:kernels.
import { AttachError, DEFAULT_LADDER, openCapture } from 'bpf-native-loader';
import { Collector, captureTest, flood, refusedPort } from './support.ts';
import { kernelExpectation } from './kernels.ts';
import type { KernelExpectation } from './kernels.ts';

const expected = kernelExpectation();

function need(t: { fail(m: string): void }): KernelExpectation | undefined {
  if (typeof expected === 'string') {
    t.fail(expected);
    return undefined;
  }
  return expected;
}

await captureTest(`the default ladder picks ${typeof expected === 'string' ? '?' : expected.winner} on this kernel (${typeof expected === 'string' ? 'no row' : expected.name})`, async (t) => {
  const k = need(t);
  if (!k) return;
  const c = new Collector({ excludeSelf: true });
  t.teardown(() => c.stop());
  t.log(c.source.report().join('\n'));
  t.is(c.source.probe, k.winner, 'the rung that must win');
  const before = DEFAULT_LADDER.slice(0, DEFAULT_LADDER.indexOf(k.winner));
  t.deepEqual(c.source.attempts.map((a) => a.probe), [...before, k.winner]);
  for (const a of c.source.attempts.slice(0, -1)) t.true((a.reason ?? '').length > 10, `${a.probe} says why it failed`);
  t.true(c.source.dns.attached, `DNS program attached beside ${k.winner}: ${c.source.dns.reason ?? ''}`);
  t.is(c.source.dns.netnsScoped, k.dnsNetns, 'DNS records carry a netns id');
});

for (const probe of DEFAULT_LADDER) {
  const k = typeof expected === 'string' ? undefined : expected;
  if (k && k.refused.includes(probe)) {
    await captureTest(`${probe}, forced, is refused on this kernel with a reason`, (t) => {
      const err = t.throws(() => openCapture({ ladder: [probe], onBatch() {} }), { instanceOf: AttachError });
      if (!err) return;
      t.log(err.message);
      const a = err.attempts[0]!;
      t.is(a.probe, probe);
      t.regex(a.code ?? '', /^E[A-Z0-9]+$/);
      t.true((a.reason ?? '').length > 10);
    });
    continue;
  }
  await captureTest(`${probe}, forced, captures TCP connects over IPv4 and IPv6 with the right fields`, async (t) => {
    const row = need(t);
    if (!row) return;
    if (!row.works.includes(probe)) {
      t.fail(`${probe} is neither in works nor refused for ${row.name}`);
      return;
    }
    const c = new Collector({ ladder: [probe] });
    t.teardown(() => c.stop());
    t.is(c.source.probe, probe);
    t.true(c.source.dns.attached, `the DNS program loads beside ${probe}: ${c.source.dns.reason ?? ''}`);
    for (const host of ['127.0.0.1', '::1']) {
      const port = await refusedPort(host);
      const r = await flood(host, port);
      const ev = await c.waitFor(`a ${probe} connect to ${host}`, () => c.connects((e) => e.pid === r.pid).at(0), 10_000);
      t.is(ev.probe, probe);
      t.is(ev.dstIP, host);
      t.is(ev.dstPort, port);
      t.is(ev.family, host === '::1' ? 10 : 2);
      t.is(ev.sockType, 1, 'SOCK_STREAM');
      t.is(ev.protocol, 6, 'IPPROTO_TCP');
      t.is(ev.comm, 'connect-flood');
      t.is(ev.uid, 0);
      t.is(ev.ppid, process.pid, 'the parent: this test process');
      t.true(ev.cgroupId > 0, 'cgroup id');
      t.is(ev.toctou, probe === 'tracepoint', 'only the tracepoint rung reads the address from user memory');
      t.true(ev.socketCookieValid && ev.socketCookie > 0, 'socket cookie (the rung\'s own, or made at socket creation)');
      t.true(ev.netnsCookie > 0, 'netns cookie');
      t.log(`${probe} ${host}: netns ${ev.netnsCookie}, cookie ${ev.socketCookieValid ? ev.socketCookie : 'none'}, ppid ${ev.ppid}`);
    }
  });
}
