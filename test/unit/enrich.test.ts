import test from 'ava';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Enricher, NO_CONTEXT } from '../../producer/transform/enrich.ts';
import { readHostIdentity } from '../../producer/transform/host-identity.ts';
import { canonicalIp, unmapIPv4 } from '../../producer/model/ip.ts';
import { NET_TCP_CONNECT_SHAPE } from '../../producer/model/net-tcp-connect.ts';
import type { NetTCPConnect } from '../../producer/model/net-tcp-connect.ts';
import { S, connectEvent, dnsEvent, reply, tcpFrame } from '../transform/packets.ts';

const host = { name: 'h1', machineId: 'm'.repeat(32), bootId: 'b-o-o-t' };
const T0 = 5000 * S;

function enricher(extra: Partial<ConstructorParameters<typeof Enricher>[0]> = {}): Enricher {
  return new Enricher({ host, processContext: (pid) => ({ ...NO_CONTEXT, ppid: pid - 1, exe: '/usr/bin/curl', containerId: null }), ...extra });
}

const chain = reply('api.example.test', [
  { type: 'CNAME', name: 'api.example.test', data: 'edge.example.test', ttl: 5 },
  { type: 'A', name: 'edge.example.test', data: '127.0.0.77', ttl: 300 },
]);

test('a TCP connect after a lookup: the full record', (t) => {
  const e = enricher({ newEventId: () => 'id-1' });
  const out: NetTCPConnect[] = [];
  e.process([dnsEvent(chain, T0), connectEvent('127.0.0.77', T0 + S, { dstPort: 8443, procStartNs: T0 - 2 * S })], out);
  t.is(out.length, 1);
  t.deepEqual(out[0], {
    eventId: 'id-1',
    eventName: 'NetTCPConnect',
    timestamp: 1_700_000_000_000_000 + (T0 + S) / 1000,
    host,
    process: {
      pid: 1234, tid: 1235, ppid: 1233, uid: 1000, gid: 1000, comm: 'curl', exe: '/usr/bin/curl', cgroupId: 77, containerId: null,
      args: null, argsCount: null, argsTruncated: null, commandLine: null,
      startTime: 1_700_000_000_000_000 + (T0 - 2 * S) / 1000, // the connect's wall time less the process's age
      entityId: null, parentComm: null, parentExe: null, ancestors: null, userName: null, groupName: null,
    },
    netnsCookie: 1,
    dstIP: '127.0.0.77',
    dstPort: 8443,
    family: 'AF_INET',
    results: ['api.example.test', 'edge.example.test'],
    probe: 'cgroup',
    srcIP: null, srcPort: null, outcome: null, errno: null, outcomeDelayUs: null, communityId: null,
  });
  // Exactly the fields of the model, nested alike.
  const keys = (o: object): string[] => Object.entries(o).flatMap(([k, v]) => (v !== null && typeof v === 'object' && !Array.isArray(v) ? keys(v).map((x) => `${k}.${x}`) : [k])).sort();
  t.deepEqual(keys(out[0]!), keys(NET_TCP_CONNECT_SHAPE));
  const s = e.stats();
  t.is(s.dnsReplies, 1);
  t.is(s.dnsRepliesParsed, 1);
  t.is(s.connectsPublished, 1);
  t.is(s.cache.hits, 1);
});

test('TTL expiry uses the events\' kernel times', (t) => {
  const e = enricher();
  const out: NetTCPConnect[] = [];
  e.process([
    dnsEvent(chain, T0),
    connectEvent('127.0.0.77', T0 + 4 * S),
    connectEvent('127.0.0.77', T0 + 6 * S), // CNAME (ttl 5) expired, A (ttl 300) valid
    connectEvent('127.0.0.77', T0 + 301 * S),
  ], out);
  t.deepEqual(out.map((r) => r.results), [['api.example.test', 'edge.example.test'], ['edge.example.test'], []]);
});

test('no earlier lookup: results []', (t) => {
  const out: NetTCPConnect[] = [];
  const e = enricher();
  e.process([connectEvent('10.1.2.3', T0)], out);
  t.deepEqual(out[0]!.results, []);
  t.is(e.stats().cache.misses, 1);
});

test('a reply after the connect does not label it (ring order)', (t) => {
  const out: NetTCPConnect[] = [];
  enricher().process([connectEvent('127.0.0.77', T0), dnsEvent(chain, T0 + 1)], out);
  t.deepEqual(out[0]!.results, []);
});

test('AAAA: connect to ::1, to a ULA, and IPv4-mapped keyed as IPv4', (t) => {
  const out: NetTCPConnect[] = [];
  enricher().process([
    dnsEvent(reply('v6.test', [{ type: 'AAAA', name: 'v6.test', data: '0:0:0:0:0:0:0:1' }], { qtype: 'AAAA' }), T0),
    dnsEvent(reply('ula.test', [{ type: 'AAAA', name: 'ula.test', data: 'fd12:3456:789a::77' }], { qtype: 'AAAA' }), T0),
    connectEvent('::1', T0 + 1),
    connectEvent('fd12:3456:789a::77', T0 + 1),
    dnsEvent(chain, T0 + 2),
    connectEvent('::ffff:127.0.0.77', T0 + 3, { family: 10 }),
  ], out);
  t.deepEqual(out.map((r) => [r.dstIP, r.family, r.results]), [
    ['::1', 'AF_INET6', ['v6.test']],
    ['fd12:3456:789a::77', 'AF_INET6', ['ula.test']],
    ['127.0.0.77', 'AF_INET6', ['api.example.test', 'edge.example.test']],
  ]);
});

test('two names resolving to one IP are both reported', (t) => {
  const out: NetTCPConnect[] = [];
  enricher().process([
    dnsEvent(reply('one.test', [{ type: 'A', name: 'one.test', data: '10.0.0.9' }]), T0),
    dnsEvent(reply('two.test', [{ type: 'A', name: 'two.test', data: '10.0.0.9' }]), T0 + 1),
    connectEvent('10.0.0.9', T0 + 2),
  ], out);
  t.deepEqual(out[0]!.results, ['two.test', 'one.test']);
});

test('namespace scope, and the host-wide switch', (t) => {
  const events = [dnsEvent(chain, T0, { netnsCookie: 11 }), connectEvent('127.0.0.77', T0 + 1, { netnsCookie: 22 }), connectEvent('127.0.0.77', T0 + 1, { netnsCookie: 11 })];
  const out: NetTCPConnect[] = [];
  enricher().process(events, out);
  t.deepEqual(out.map((r) => r.results.length), [0, 2]);
  out.length = 0;
  enricher({ dnsCache: { scope: 'host' } }).process(events, out);
  t.deepEqual(out.map((r) => r.results.length), [2, 2]);
});

test('only TCP over IPv4/IPv6 is published; the rest is counted', (t) => {
  const e = enricher();
  const out: NetTCPConnect[] = [];
  e.process([
    connectEvent('10.0.0.1', T0, { sockType: 2 }), // UDP
    connectEvent('10.0.0.1', T0, { sockType: 3 }), // raw
    connectEvent('10.0.0.1', T0, { family: 1 }), // AF_UNIX
    connectEvent('10.0.0.1', T0, { family: 0 }),
    connectEvent('10.0.0.1', T0, { sockType: 1 | 0o4000 }), // SOCK_STREAM|SOCK_NONBLOCK
  ], out);
  t.is(out.length, 1);
  const s = e.stats();
  t.is(s.connectsNotTcp, 2);
  t.is(s.connectsNotInet, 2);
  t.is(s.connectsPublished, 1);
});

test('bad DNS payloads are counted by reason and never stop the batch', (t) => {
  const e = enricher();
  const out: NetTCPConnect[] = [];
  e.process([
    dnsEvent(Buffer.from('garbage!'), T0),
    dnsEvent(reply('a.test', [{ type: 'A', name: 'a.test', data: '10.0.0.1' }], { flags: 3 }), T0),
    dnsEvent(chain.subarray(0, 20), T0, { truncated: true, payloadLength: chain.length }),
    dnsEvent(reply('a.test', [{ type: 'A', name: 'a.test', data: '10.0.0.1' }], { type: 'query' }), T0),
    dnsEvent(tcpFrame(chain), T0, { transport: 'tcp' }),
    connectEvent('127.0.0.77', T0 + 1),
  ], out);
  const s = e.stats();
  t.is(s.dnsErrors.malformed, 1);
  t.is(s.dnsErrors.rcode_nonzero, 1);
  t.is(s.dnsErrors.truncated, 1);
  t.is(s.dnsErrors.not_response, 1);
  t.is(s.dnsRepliesParsed, 1);
  t.deepEqual(out[0]!.results, ['api.example.test', 'edge.example.test']);
});

test('a throwing processContext gives nulls and is counted', (t) => {
  const e = enricher({ processContext: () => { throw new Error('gone'); } });
  const out: NetTCPConnect[] = [];
  e.process([connectEvent('10.0.0.1', T0)], out);
  t.is(out[0]!.process.ppid, null);
  t.is(out[0]!.process.exe, null);
  t.is(e.stats().processContextErrors, 1);
});

test('default event ids are UUID v4, unique', (t) => {
  const e = new Enricher({ host });
  const out: NetTCPConnect[] = [];
  e.process([connectEvent('10.0.0.1', T0), connectEvent('10.0.0.1', T0)], out);
  t.regex(out[0]!.eventId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  t.not(out[0]!.eventId, out[1]!.eventId);
  t.is(out[0]!.process.exe, null);
});

test('host identity: read once from files, empty when absent', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'conntrail-host-'));
  writeFileSync(join(dir, 'machine-id'), 'abc123\n');
  writeFileSync(join(dir, 'boot_id'), 'boot-1\n');
  t.deepEqual(readHostIdentity({ name: 'x', machineIdPath: join(dir, 'machine-id'), bootIdPath: join(dir, 'boot_id') }), { name: 'x', machineId: 'abc123', bootId: 'boot-1' });
  t.deepEqual(readHostIdentity({ name: 'x', machineIdPath: join(dir, 'none'), bootIdPath: join(dir, 'none') }), { name: 'x', machineId: '', bootId: '' });
  const real = readHostIdentity({ name: 'y' });
  t.regex(real.bootId, /^[0-9a-f-]{36}$/);
  t.true(Object.isFrozen(real));
});

test('IP canonical text', (t) => {
  const cases: [string, string | null][] = [
    ['127.0.0.1', '127.0.0.1'],
    ['::1', '::1'],
    ['0:0:0:0:0:0:0:1', '::1'],
    ['FD00::0001', 'fd00::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['1:0:0:1:0:0:0:1', '1:0:0:1::1'],
    ['::ffff:1.2.3.4', '1.2.3.4'],
    ['::ffff:102:304', '1.2.3.4'],
    ['0:0:0:0:0:ffff:1.2.3.4', '1.2.3.4'],
    ['::', '::'],
    ['fe80::1%eth0', 'fe80::1'],
    ['1.2.3', null],
    ['256.1.1.1', null],
    ['01.1.1.1', null],
    ['1:2:3:4:5:6:7:8:9', null],
    ['1::2::3', null],
    ['g::1', null],
  ];
  for (const [i, o] of cases) t.is(canonicalIp(i), o, i);
  t.is(unmapIPv4('::ffff:127.0.0.77'), '127.0.0.77');
  t.is(unmapIPv4('::ffff:7f00:4d'), '127.0.0.77');
  t.is(unmapIPv4('10.0.0.1'), '10.0.0.1');
  t.is(unmapIPv4('fd00::1'), 'fd00::1');
});

test('process context: filled by the source, or asked for; the kernel ppid wins', (t) => {
  const calls: unknown[][] = [];
  const e = new Enricher({
    host,
    processContext: (...args) => {
      calls.push(args);
      return { ...NO_CONTEXT, ppid: 42, exe: '/proc/exe', containerId: 'c'.repeat(64) };
    },
  });
  const out: NetTCPConnect[] = [];
  e.process([
    connectEvent('10.0.0.1', T0, { exe: '/from/source', containerId: null, ppid: 7 }),
    connectEvent('10.0.0.1', T0, { ppid: 9, procStartNs: 123 }),
    connectEvent('10.0.0.1', T0),
  ], out);
  t.deepEqual(out.map((r) => [r.process.ppid, r.process.exe, r.process.containerId]), [
    [7, '/from/source', null],
    [9, '/proc/exe', 'c'.repeat(64)],
    [42, '/proc/exe', 'c'.repeat(64)],
  ]);
  t.deepEqual(calls, [[1234, T0, 123, 9], [1234, T0, 0, 0]]);
});

test('with an outcome join: records wait for their outcome in the same batches, in ring order', async (t) => {
  const { OutcomeJoin } = await import('../../producer/transform/outcome.ts');
  const released: NetTCPConnect[] = [];
  const join = new OutcomeJoin({ waitMs: 1000, maxPending: 10, release: (r) => released.push(...r), now: () => 0 });
  const e = enricher({ outcomes: join });
  const out: NetTCPConnect[] = [];
  e.process([
    connectEvent('10.1.1.1', T0, { socketCookie: 77, socketCookieValid: true }),
    connectEvent('10.1.1.2', T0 + 10, { tid: 9, socketCookie: 78, socketCookieValid: true }),
    { kind: 'outcome', source: 'state', ktimeNs: T0 + 2_000_000, socketCookie: 77, socketCookieValid: true, pid: 0, tid: 0, errno: 0, established: true, family: 2, srcIP: '10.9.9.9', srcPort: 50000, dstIP: '10.1.1.1', dstPort: 443, communityId: null },
    connectEvent('10.1.1.3', T0 + 20),
  ], out);
  t.deepEqual(out.map((r) => [r.dstIP, r.outcome, r.srcPort, r.outcomeDelayUs]), [['10.1.1.1', 'established', 50000, 2000]]);
  const s = e.stats().outcome;
  t.is(s.joinedState, 1);
  t.is(s.pending, 2);
  join.stop();
  t.deepEqual(released.map((r) => [r.dstIP, r.outcome]), [['10.1.1.2', 'in_progress'], ['10.1.1.3', 'in_progress']]);
  t.is(e.stats().connectsPublished, 3);
});
