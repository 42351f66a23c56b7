// DNS replies from a test DNS server on loopback reach JS through the same
// ring buffer as connects: a reply is always before the connect that follows it.
import { connect as tcpConnect } from 'node:net';
import dnsPacket from 'dns-packet';
import type { Answer } from 'dns-packet';
import { TestDnsServer, queryDns } from '../helpers/dns-server.ts';
import { Collector, captureTest, refusedPort } from './support.ts';
import type { DnsReplyEvent } from '../../producer/source/types.ts';

/** A loopback address of our own (127.53.x.y), so parallel test runs do not collide on port 53. */
function loopbackAddress(): string {
  return `127.53.${1 + Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
}

function connectOnce(host: string, port: number): Promise<void> {
  return new Promise((resolve) => {
    const s = tcpConnect(port, host);
    const done = (): void => { s.destroy(); resolve(); };
    s.once('connect', done);
    s.once('error', done);
  });
}

interface PlainAnswer { type: string; name: string; data: unknown; ttl: number | undefined }

function plain(a: Answer): PlainAnswer {
  const x = a as { type: string; name: string; data?: unknown; ttl?: number };
  return { type: x.type, name: x.name, data: x.data, ttl: x.ttl };
}

function answersOf(ev: DnsReplyEvent): PlainAnswer[] {
  const payload = ev.transport === 'tcp' ? ev.payload.subarray(2) : ev.payload;
  return (dnsPacket.decode(payload).answers ?? []).map(plain);
}

await captureTest('a UDP DNS reply arrives before the connect that follows it, in the same netns', async (t) => {
  const server = await TestDnsServer.start({
    address: loopbackAddress(),
    records: [
      { name: 'svc.conntrail.test', type: 'CNAME', data: 'edge.conntrail.test', ttl: 30 },
      { name: 'edge.conntrail.test', type: 'A', data: '127.0.0.77', ttl: 60 },
    ],
  });
  t.teardown(() => server.close());
  const c = new Collector();
  t.teardown(() => c.stop());
  const reply = await queryDns(server, 'svc.conntrail.test', 'A');
  const a = (reply.answers ?? []).map(plain).find((x) => x.type === 'A');
  t.is(a?.data, '127.0.0.77');
  const port = await refusedPort();
  await connectOnce('127.0.0.77', port);
  const conn = await c.waitFor('the connect', () => c.connects((e) => e.dstIP === '127.0.0.77' && e.dstPort === port).at(0));
  const dns = c.dns((e) => e.srcIP === server.address && e.srcPort === 53);
  t.is(dns.length, 1);
  const ev = dns[0]!;
  t.true(c.events.indexOf(ev) < c.events.indexOf(conn), 'reply before connect');
  t.true(ev.ktimeNs < conn.ktimeNs);
  t.is(ev.netnsCookie, conn.netnsCookie, 'same kind of netns id on both');
  t.is(ev.family, 2);
  t.is(ev.transport, 'udp');
  t.is(ev.dstIP, '127.0.0.1');
  t.false(ev.truncated);
  t.is(ev.payload.length, ev.payloadLength);
  const answers = answersOf(ev);
  t.deepEqual(answers.map((x) => [x.type, x.name, x.data, x.ttl]), [
    ['CNAME', 'svc.conntrail.test', 'edge.conntrail.test', 30],
    ['A', 'edge.conntrail.test', '127.0.0.77', 60],
  ]);
});

await captureTest('DNS over TCP and over IPv6 are captured', async (t) => {
  const server = await TestDnsServer.start({ address: loopbackAddress(), records: [{ name: 'tcp.conntrail.test', type: 'AAAA', data: '::1' }] });
  t.teardown(() => server.close());
  const c = new Collector();
  t.teardown(() => c.stop());
  await queryDns(server, 'tcp.conntrail.test', 'AAAA', 'tcp');
  const tcp = await c.waitFor('tcp reply', () => c.dns((e) => e.srcIP === server.address && e.transport === 'tcp').at(0));
  t.is(tcp.payload.readUInt16BE(0), tcp.payloadLength - 2, 'a TCP segment starts with the DNS length');
  t.deepEqual(answersOf(tcp).map((x) => x.data), ['::1']);

  let v6: TestDnsServer | undefined;
  try {
    v6 = await TestDnsServer.start({ address: '::1', tcp: false, records: [{ name: 'v6.conntrail.test', type: 'A', data: '127.0.0.78' }] });
  } catch (err) {
    t.log(`[::1]:53 is taken (${(err as Error).message}): IPv6 part skipped`);
    return;
  }
  t.teardown(() => v6?.close());
  await queryDns(v6, 'v6.conntrail.test', 'A');
  const ev = await c.waitFor('v6 reply', () => c.dns((e) => e.family === 10 && e.srcIP === '::1' && e.srcPort === 53).at(0));
  t.is(ev.dstIP, '::1');
  t.deepEqual(answersOf(ev).map((x) => x.data), ['127.0.0.78']);
});

await captureTest('a reply longer than dnsPayloadCap is cut and marked truncated', async (t) => {
  const records = Array.from({ length: 40 }, (_, i) => ({ name: 'big.conntrail.test', type: 'A' as const, data: `127.0.1.${i + 1}` }));
  const server = await TestDnsServer.start({ address: loopbackAddress(), records });
  t.teardown(() => server.close());
  const c = new Collector({ dnsPayloadCap: 64 });
  t.teardown(() => c.stop());
  await queryDns(server, 'big.conntrail.test', 'A');
  const ev = await c.waitFor('big reply', () => c.dns((e) => e.srcIP === server.address).at(0));
  t.true(ev.truncated);
  t.is(ev.payload.length, 64);
  t.true(ev.payloadLength > 500, `wire length ${ev.payloadLength}`);
  t.true(c.source.counters().dnsTruncated >= 1);
});

await captureTest('a DNS program that cannot attach never stops connect capture; the report and the counters say why', async (t) => {
  const c = new Collector({ ladder: ['tracepoint'], cgroupPath: '/nonexistent-cgroup' });
  t.teardown(() => c.stop());
  t.is(c.source.probe, 'tracepoint');
  t.false(c.source.dns.attached);
  t.regex(c.source.dns.reason ?? '', /cgroup/);
  t.true(c.source.report().some((l) => /DNS names NOT available \(connects are captured without results\): .*cgroup/.test(l)), c.source.report().join('\n'));
  const port = await refusedPort();
  await connectOnce('127.0.0.1', port);
  const ev = await c.waitFor('the connect', () => c.connects((e) => e.pid === process.pid && e.dstPort === port).at(0));
  t.is(ev.probe, 'tracepoint');
  const counters = c.source.counters();
  t.false(counters.dnsCapture?.attached);
  t.regex(counters.dnsCapture?.reason ?? '', /cgroup/);
});
