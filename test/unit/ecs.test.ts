import test from 'ava';
import { NET_TCP_CONNECT_SHAPE } from '../../producer/model/net-tcp-connect.ts';
import type { NetTCPConnectShape } from '../../producer/model/net-tcp-connect.ts';
import { ECS_FIELD_MAP, ECS_VERSION, EcsJsonEncoder, isoMicros } from '../../producer/encode/ecs.ts';
import { sampleRecord, sparseRecord } from '../../producer/model/sample.ts';

type Doc = Record<string, unknown>;
const enc = new EcsJsonEncoder();
const ecs = (r: ReturnType<typeof sampleRecord>): Doc => JSON.parse(enc.encode(r).toString('utf8')) as Doc;

function get(doc: Doc, dotted: string): unknown {
  if (dotted in doc) return doc[dotted];
  let cur: unknown = doc;
  for (const part of dotted.split('.')) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Doc)[part];
  }
  return cur;
}

function leafPaths(shape: NetTCPConnectShape, prefix = ''): string[] {
  return Object.entries(shape).flatMap(([k, v]) => (typeof v === 'string' ? [prefix + k] : leafPaths(v, `${prefix}${k}.`)));
}

test('every field of the shape has a place in the ECS document', (t) => {
  const leaves = leafPaths(NET_TCP_CONNECT_SHAPE);
  t.deepEqual(leaves.filter((p) => !(p in ECS_FIELD_MAP)), []);
  t.deepEqual(Object.keys(ECS_FIELD_MAP).filter((p) => !leaves.includes(p)), []);
});

test('field by field, a full record', (t) => {
  const r = sampleRecord({ results: ['example.com', 'edge.example.net'], process: { ...sampleRecord().process, containerId: 'abc123' } });
  const d = ecs(r);
  t.is(d['@timestamp'], '2025-01-02T03:04:05.123456Z');
  t.deepEqual(d.event, {
    kind: 'event', category: ['network'], type: ['connection', 'start'], action: 'connection-attempted',
    id: r.eventId, module: 'conntrail', dataset: 'conntrail.net_tcp_connect', provider: 'cgroup', outcome: 'failure', duration: 812_000,
  });
  t.deepEqual(d.network, { direction: 'egress', transport: 'tcp', iana_number: '6', type: 'ipv4', community_id: r.communityId });
  t.deepEqual(d.destination, { ip: '93.184.215.14', port: 443, domain: 'example.com' });
  t.deepEqual(d.source, { ip: '192.0.2.10', port: 51234 });
  t.deepEqual(d.error, { code: 'ECONNREFUSED' });
  t.deepEqual(d.process, {
    pid: 4242, name: 'curl', executable: '/usr/bin/curl', args: ['curl', '-s', 'https://example.com/'], args_count: 3,
    command_line: 'curl -s https://example.com/', start: '2025-01-02T03:04:05.001000Z', entity_id: r.process.entityId,
    parent: { pid: 1, name: 'bash', executable: '/usr/bin/bash' }, thread: { id: 4243 },
  });
  t.deepEqual(d.user, { id: '1000', name: 'alice' });
  t.deepEqual(d.group, { id: '1000', name: 'alice' });
  t.deepEqual(d.host, { name: 'web-1', id: r.host.machineId, boot: { id: r.host.bootId } });
  t.deepEqual(d.container, { id: 'abc123' });
  t.deepEqual(d.related, { ip: ['93.184.215.14', '192.0.2.10'], hosts: ['example.com', 'edge.example.net'] });
  t.deepEqual(d.conntrail, {
    event_name: 'NetTCPConnect', results: ['example.com', 'edge.example.net'], family: 'AF_INET',
    probe: 'cgroup', netns_cookie: 4096, cgroup_id: 12345, outcome: 'refused',
    process: { args_truncated: false, ancestors: ['/usr/sbin/sshd', '/usr/lib/systemd/systemd'] },
  });
  t.deepEqual(d.ecs, { version: ECS_VERSION });
  // every mapped path is present for a full record
  for (const [from, tos] of Object.entries(ECS_FIELD_MAP)) {
    for (const to of tos) t.not(get(d, to), undefined, `${from} -> ${to}`);
  }
});

test('nulls and empties are left out, IPv6 is network.type ipv6', (t) => {
  const d = ecs(sparseRecord());
  t.deepEqual(d.destination, { ip: '2001:db8::1', port: 443 });
  t.is(get(d, 'network.type'), 'ipv6');
  t.deepEqual(d.process, { pid: 4242, name: 'curl', thread: { id: 4243 } });
  t.deepEqual(d.host, { name: 'web-1', boot: { id: sparseRecord().host.bootId } });
  t.false('container' in d);
  t.deepEqual(d.related, { ip: ['2001:db8::1'] });
  t.false('source' in d);
  t.false('error' in d);
  t.is(get(d, 'event.outcome'), undefined);
  t.is(get(d, 'network.community_id'), undefined);
  t.deepEqual(get(d, 'conntrail.results'), []);
  t.false(JSON.stringify(d).includes('null'));
});

test('event.outcome: established success, in_progress unknown, every failure failure; conntrail.outcome the detail', (t) => {
  for (const [outcome, ecsOutcome] of [['established', 'success'], ['in_progress', 'unknown'], ['refused', 'failure'], ['timeout', 'failure'], ['unreachable', 'failure'], ['reset', 'failure'], ['error', 'failure']] as const) {
    const d = ecs(sampleRecord({ outcome, errno: null, outcomeDelayUs: null }));
    t.is(get(d, 'event.outcome'), ecsOutcome, outcome);
    t.is(get(d, 'conntrail.outcome'), outcome);
    t.false('error' in d);
    t.is(get(d, 'event.duration'), undefined);
  }
  // a port without an address (and the reverse) still writes what is known
  t.deepEqual(ecs(sampleRecord({ srcIP: null })).source, { port: 51234 });
  t.deepEqual(ecs(sampleRecord({ srcPort: null })).source, { ip: '192.0.2.10' });
});

test('an IPv4 destination on an AF_INET6 socket (mapped) is ipv4 on the wire', (t) => {
  const d = ecs(sampleRecord({ family: 'AF_INET6' }));
  t.is(get(d, 'network.type'), 'ipv4');
  t.is(get(d, 'conntrail.family'), 'AF_INET6');
});

test('strings are JSON-escaped', (t) => {
  const nasty = 'a"b\\c\n\u0001é';
  const r = sampleRecord({ results: [nasty] });
  const d = ecs({ ...r, process: { ...r.process, comm: nasty, exe: nasty } });
  t.is(get(d, 'process.name'), nasty);
  t.is(get(d, 'process.executable'), nasty);
  t.is(get(d, 'destination.domain'), nasty);
});

test('one line per record (ndjson friendly)', (t) => {
  const line = enc.encode(sampleRecord({ results: ['x\ny'] })).toString('utf8');
  t.false(line.includes('\n'));
});

test('isoMicros keeps six fractional digits', (t) => {
  t.is(isoMicros(0), '1970-01-01T00:00:00.000000Z');
  t.is(isoMicros(1_735_787_045_000_001), '2025-01-02T03:04:05.000001Z');
  t.is(isoMicros(1_735_787_045_999_999), '2025-01-02T03:04:05.999999Z');
});

test('records encoded back to back into small slabs stay intact (multi-byte text too)', (t) => {
  const small = new EcsJsonEncoder({ slabBytes: 1024 });
  const records = Array.from({ length: 300 }, (_, i) => sampleRecord({ eventId: `id-${i}`, results: Array.from({ length: i % 9 }, (_, j) => `ñame-${j}-€.example`) }));
  const bufs = records.map((r) => small.encode(r));
  bufs.forEach((b, i) => {
    const d = JSON.parse(b.toString('utf8')) as Doc;
    t.is(get(d, 'event.id'), `id-${i}`);
    t.deepEqual(get(d, 'conntrail.results'), records[i]?.results);
  });
  const huge = sampleRecord({ results: Array.from({ length: 200 }, (_, j) => `name-${j}.example.com`) });
  t.is((JSON.parse(small.encode(huge).toString()) as { conntrail: { results: string[] } }).conntrail.results.length, 200);
});
