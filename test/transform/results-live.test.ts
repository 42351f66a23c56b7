// NetTCPConnect.results through the real capture path: BPF connect probe and
// DNS skb program -> ring buffer -> CaptureSource -> Enricher, with a real DNS
// server on loopback (port 53) answering real queries. Needs root and BPF.
import { execFile } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import test from 'ava';
import { integrationTest } from '../helpers/require.ts';
import { kernelExpectation } from '../capture/kernels.ts';
import { queryDns, startDnsServer } from '../helpers/dns-server.ts';
import type { TestDnsServer } from '../helpers/dns-server.ts';
import { LiveCapture, connectOnce, connectTo, listen } from './live-harness.ts';

const run = promisify(execFile);
const NEEDS = ['root', 'bpf'] as const;
const ULA = 'fd00:c0:ffee::77';

const RECORDS = [
  { name: 'api.example.test', type: 'CNAME', data: 'edge.example.test', ttl: 300 },
  { name: 'edge.example.test', type: 'A', data: '127.0.0.77', ttl: 300 },
  { name: 'ttl-api.example.test', type: 'CNAME', data: 'ttl-edge.example.test', ttl: 1 },
  { name: 'ttl-edge.example.test', type: 'A', data: '127.0.0.78', ttl: 300 },
  { name: 'v6.example.test', type: 'AAAA', data: '::1', ttl: 300 },
  { name: 'ula.example.test', type: 'CNAME', data: 'ula-edge.example.test', ttl: 300 },
  { name: 'ula-edge.example.test', type: 'AAAA', data: ULA, ttl: 300 },
  { name: 'one.example.test', type: 'A', data: '127.0.0.79', ttl: 300 },
  { name: 'two.example.test', type: 'A', data: '127.0.0.79', ttl: 300 },
] as const;

let dnsServer: Promise<TestDnsServer> | undefined;
/** The capture and the DNS server, started by the first test that runs (none start when every test is skipped). */
async function setup(): Promise<{ live: LiveCapture; dns: TestDnsServer }> {
  const live = LiveCapture.shared();
  dnsServer ??= startDnsServer({ records: RECORDS.map((r) => ({ ...r })) });
  return { live, dns: await dnsServer };
}

test.after.always(async () => {
  await LiveCapture.stopShared();
  if (dnsServer) await (await dnsServer).close();
});

await integrationTest('CNAME chain: a lookup then a TCP connect gives question then CNAME', NEEDS, async (t) => {
  const { live, dns } = await setup();
  const reply = await queryDns(dns, 'api.example.test', 'A');
  t.is(reply.answers?.length, 2);
  const l = await listen('127.0.0.77');
  try {
    await connectOnce('127.0.0.77', l.port);
    const r = await live.netnsOut.waitFor(connectTo('127.0.0.77', l.port));
    t.deepEqual(r.results, ['api.example.test', 'edge.example.test']);
    t.is(r.eventName, 'NetTCPConnect');
    t.is(r.family, 'AF_INET');
    t.is(r.process.pid, process.pid);
    t.is(r.process.ppid, process.ppid);
    t.is(r.process.exe, realpathSync(process.execPath));
    t.is(r.process.uid, 0);
    t.true(r.netnsCookie > 0);
    const nowUs = Date.now() * 1000;
    t.true(Math.abs(r.timestamp - nowUs) < 60_000_000, `timestamp ${r.timestamp} is wall-clock µs (now ${nowUs})`);
    t.regex(r.host.bootId, /^[0-9a-f-]{36}$/);
    t.deepEqual((await live.hostOut.waitFor(connectTo('127.0.0.77', l.port))).results, ['api.example.test', 'edge.example.test']);
  } finally {
    await l.close();
  }
});

await integrationTest('after the CNAME\'s TTL (not the A\'s) the chain is broken', NEEDS, async (t) => {
  const { live, dns } = await setup();
  await queryDns(dns, 'ttl-api.example.test', 'A');
  const before = await listen('127.0.0.78');
  const after = await listen('127.0.0.78');
  try {
    await connectOnce('127.0.0.78', before.port);
    const first = await live.netnsOut.waitFor(connectTo('127.0.0.78', before.port));
    t.deepEqual(first.results, ['ttl-api.example.test', 'ttl-edge.example.test']);
    await sleep(1500); // CNAME ttl 1 s
    await connectOnce('127.0.0.78', after.port);
    const r = await live.netnsOut.waitFor(connectTo('127.0.0.78', after.port));
    const gap = `connects ${(r.timestamp - first.timestamp) / 1e6} s apart`;
    t.false(r.results.includes('ttl-api.example.test'), gap);
    t.deepEqual(r.results, ['ttl-edge.example.test'], gap);
  } finally {
    await before.close();
    await after.close();
  }
});

await integrationTest('AAAA answers: connect to ::1, and to a ULA address (resolved over TCP DNS)', NEEDS, async (t) => {
  const { live, dns } = await setup();
  await run('ip', ['-6', 'addr', 'add', `${ULA}/128`, 'dev', 'lo', 'nodad']);
  try {
    await queryDns(dns, 'v6.example.test', 'AAAA', 'udp');
    const l6 = await listen('::1');
    try {
      await connectOnce('::1', l6.port);
      const r = await live.netnsOut.waitFor(connectTo('::1', l6.port));
      t.is(r.family, 'AF_INET6');
      t.deepEqual(r.results, ['v6.example.test']);
    } finally {
      await l6.close();
    }
    const reply = await queryDns(dns, 'ula.example.test', 'AAAA', 'tcp');
    t.is(reply.answers?.length, 2);
    const lu = await listen(ULA);
    try {
      await connectOnce(ULA, lu.port);
      const r = await live.netnsOut.waitFor(connectTo(ULA, lu.port));
      t.is(r.dstIP, ULA);
      t.deepEqual(r.results, ['ula.example.test', 'ula-edge.example.test']);
    } finally {
      await lu.close();
    }
  } finally {
    await run('ip', ['-6', 'addr', 'del', `${ULA}/128`, 'dev', 'lo']).catch(() => undefined);
  }
});

await integrationTest('two names resolving to one IP are both reported, latest first', NEEDS, async (t) => {
  const { live, dns } = await setup();
  await queryDns(dns, 'one.example.test', 'A');
  await queryDns(dns, 'two.example.test', 'A');
  const l = await listen('127.0.0.79');
  try {
    await connectOnce('127.0.0.79', l.port);
    t.deepEqual((await live.netnsOut.waitFor(connectTo('127.0.0.79', l.port))).results, ['two.example.test', 'one.example.test']);
  } finally {
    await l.close();
  }
});

await integrationTest('a connect with no earlier lookup gives []', NEEDS, async (t) => {
  const { live } = await setup();
  const l = await listen('127.0.0.80');
  try {
    await connectOnce('127.0.0.80', l.port);
    t.deepEqual((await live.netnsOut.waitFor(connectTo('127.0.0.80', l.port))).results, []);
    t.deepEqual((await live.hostOut.waitFor(connectTo('127.0.0.80', l.port))).results, []);
  } finally {
    await l.close();
  }
});

await integrationTest('a reply seen in another network namespace labels only that namespace (unless host-wide)', NEEDS, async (t) => {
  const { live } = await setup();
  const k = kernelExpectation();
  if (typeof k === 'string') return t.fail(k);
  t.is(live.source.dns.netnsScoped, k.dnsNetns, `DNS records carry a netns id on ${k.name}`);
  if (!k.dnsNetns) {
    t.log(`${k.name}: DNS replies carry no netns id, so conntrail run keeps one host-wide cache (the host enricher below is what it uses)`);
  }
  const ns = `conntrail-t${process.pid}`;
  const ip = '127.0.0.81';
  await run('ip', ['netns', 'add', ns]);
  try {
    await run('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    // In the namespace: a DNS server on its loopback, the lookup, and a connect.
    const child = fileURLToPath(new URL('./ns-resolve.ts', import.meta.url));
    const { stdout } = await run('ip', ['netns', 'exec', ns, process.execPath, child, 'ns.example.test', ip]);
    const inNs = JSON.parse(stdout) as { pid: number; port: number };
    const there = await (k.dnsNetns ? live.netnsOut : live.hostOut).waitFor(connectTo(ip, inNs.port, inNs.pid));
    t.deepEqual(there.results, ['ns.example.test'], 'labels the connect in its own namespace');
    // In the host's namespace: the same address.
    const l = await listen(ip);
    try {
      await connectOnce(ip, l.port);
      const here = await live.netnsOut.waitFor(connectTo(ip, l.port));
      t.not(here.netnsCookie, there.netnsCookie);
      if (k.dnsNetns) t.deepEqual(here.results, [], 'scope netns: not labelled by the other namespace\'s reply');
      t.deepEqual((await live.hostOut.waitFor(connectTo(ip, l.port))).results, ['ns.example.test'], 'scope host: labelled');
    } finally {
      await l.close();
    }
  } finally {
    await run('ip', ['netns', 'del', ns]).catch(() => undefined);
  }
});
