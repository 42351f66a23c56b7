// The ECS JSON encoder's reused parts (the host and event name JSON, the
// timestamp's date to the second) must not change a byte: every document is
// compared with the encoder as it was before (kept below, verbatim, as the
// oracle) over random records, hosts and timestamps.
import test from 'ava';
import fc from 'fast-check';
import { EcsJsonEncoder, ecsJson, isoMicros, ECS_EVENT_ACTION, ECS_EVENT_DATASET, ECS_EVENT_MODULE, ECS_VERSION } from '../../producer/encode/ecs.ts';
import { sampleRecord } from '../../producer/model/sample.ts';
import { CONNECT_OUTCOMES } from '../../producer/model/connect-outcome.ts';
import type { NetTCPConnect } from '../../producer/model/net-tcp-connect.ts';

// ---- the encoder before the reuse (producer/encode/ecs.ts at 8f98359), the oracle;
// with the v2 process fields (args ... groupName) written as the encoder writes them ----
const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** Microseconds since the epoch -> "YYYY-MM-DDTHH:MM:SS.ffffffZ". */
function oldIsoMicros(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const frac = micros - ms * 1000; // 0..999 microseconds within the millisecond
  const iso = new Date(ms).toISOString(); // ...SS.mmmZ
  return iso.slice(0, iso.length - 1) + pad(Math.floor(frac), 3) + 'Z';
}

const str = JSON.stringify as (s: string) => string;

function strArray(a: readonly string[]): string {
  let out = '[';
  for (let i = 0; i < a.length; i++) out += (i === 0 ? '' : ',') + str(a[i] as string);
  return out + ']';
}

/** Builds the ECS document as a JSON string (no intermediate object). */
function oldEcsJson(r: NetTCPConnect): string {
  const p = r.process;
  const h = r.host;
  const hasNames = r.results.length > 0;
  const ipText = str(r.dstIP);
  const probe = str(r.probe);
  let s = '{"@timestamp":"' + oldIsoMicros(r.timestamp) + '"';
  s += ',"event":{"kind":"event","category":["network"],"type":["connection","start"],"action":"' + ECS_EVENT_ACTION + '"';
  const ecsOutcome = r.outcome === null ? null : r.outcome === 'established' ? 'success' : r.outcome === 'in_progress' ? 'unknown' : 'failure';
  s += ',"id":' + str(r.eventId) + ',"module":"' + ECS_EVENT_MODULE + '","dataset":"' + ECS_EVENT_DATASET + '","provider":' + probe;
  s += (ecsOutcome !== null ? ',"outcome":"' + ecsOutcome + '"' : '') + (r.outcomeDelayUs !== null ? ',"duration":' + r.outcomeDelayUs * 1000 : '') + '}';
  s += ',"network":{"direction":"egress","transport":"tcp","iana_number":"6","type":"' + (r.dstIP.includes(':') ? 'ipv6' : 'ipv4') + '"' + (r.communityId !== null ? ',"community_id":' + str(r.communityId) : '') + '}';
  s += ',"destination":{"ip":' + ipText + ',"port":' + r.dstPort + (hasNames ? ',"domain":' + str(r.results[0] as string) : '') + '}';
  const source = [r.srcIP !== null ? '"ip":' + str(r.srcIP) : '', r.srcPort !== null ? '"port":' + r.srcPort : ''].filter((x) => x);
  if (source.length > 0) s += ',"source":{' + source.join(',') + '}';
  if (r.errno !== null) s += ',"error":{"code":' + str(r.errno) + '}';
  s += ',"process":{"pid":' + p.pid + ',"name":' + str(p.comm);
  if (p.exe !== null) s += ',"executable":' + str(p.exe);
  if (p.args !== null) s += ',"args":' + strArray(p.args);
  if (p.argsCount !== null) s += ',"args_count":' + p.argsCount;
  if (p.commandLine !== null) s += ',"command_line":' + str(p.commandLine);
  if (p.startTime !== null) s += ',"start":"' + oldIsoMicros(p.startTime) + '"';
  if (p.entityId !== null) s += ',"entity_id":' + str(p.entityId);
  const parent = [p.ppid !== null ? '"pid":' + p.ppid : '', p.parentComm !== null ? '"name":' + str(p.parentComm) : '', p.parentExe !== null ? '"executable":' + str(p.parentExe) : ''].filter((x) => x);
  if (parent.length > 0) s += ',"parent":{' + parent.join(',') + '}';
  s += ',"thread":{"id":' + p.tid + '}}';
  s += ',"user":{"id":"' + p.uid + '"' + (p.userName !== null ? ',"name":' + str(p.userName) : '') + '}';
  s += ',"group":{"id":"' + p.gid + '"' + (p.groupName !== null ? ',"name":' + str(p.groupName) : '') + '}';
  s += ',"host":{"name":' + str(h.name) + (h.machineId !== '' ? ',"id":' + str(h.machineId) : '') + ',"boot":{"id":' + str(h.bootId) + '}}';
  if (p.containerId !== null) s += ',"container":{"id":' + str(p.containerId) + '}';
  s += ',"related":{"ip":[' + [ipText, ...(r.srcIP !== null ? [str(r.srcIP)] : [])].join(',') + ']' + (hasNames ? ',"hosts":' + strArray(r.results) : '') + '}';
  s += ',"conntrail":{"event_name":' + str(r.eventName) + ',"results":' + strArray(r.results) + ',"family":' + str(r.family);
  s += ',"probe":' + probe + ',"netns_cookie":' + r.netnsCookie + ',"cgroup_id":' + p.cgroupId + (r.outcome !== null ? ',"outcome":' + str(r.outcome) : '');
  const proc = [p.argsTruncated !== null ? '"args_truncated":' + p.argsTruncated : '', p.ancestors !== null ? '"ancestors":' + strArray(p.ancestors) : ''].filter((x) => x);
  s += (proc.length > 0 ? ',"process":{' + proc.join(',') + '}' : '') + '}';
  s += ',"ecs":{"version":"' + ECS_VERSION + '"}}';
  return s;
}

// ---- end of the oracle ----

type Host = NetTCPConnect['host'];
const text = fc.oneof(fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 40 }), fc.string({ unit: 'grapheme', maxLength: 60 }));
const sharedHost: Host = Object.freeze({ name: 'web-1', machineId: '0123456789abcdef0123456789abcdef', bootId: 'f0e1d2c3-b4a5-4697-8877-665544332211' });
const hostArb: fc.Arbitrary<Host> = fc.oneof(
  { weight: 6, arbitrary: fc.constant(sharedHost) },
  { weight: 2, arbitrary: fc.constant(null).map(() => ({ ...sharedHost })) },
  { weight: 1, arbitrary: fc.constant(null).map(() => ({ ...sharedHost, machineId: '' })) },
  { weight: 2, arbitrary: fc.record({ name: text, machineId: fc.oneof(fc.constant(''), text), bootId: text }) },
);
// Around now (records in time order, many in one second), anywhere a Date holds, fractional, and out of range.
const BASE = 1_764_000_000_000_000;
const micros = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0, max: 5_000_000 }).map((d) => BASE + d) },
  { weight: 2, arbitrary: fc.integer({ min: -8_640_000_000, max: 8_640_000_000 }).chain((s) => fc.integer({ min: 0, max: 999_999 }).map((u) => s * 1_000_000 + u)) },
  { weight: 1, arbitrary: fc.double({ min: -8.64e18, max: 8.64e18, noNaN: true }) },
  { weight: 1, arbitrary: fc.constantFrom(-1, 0, 999, 1000, 999_999, 1_000_000, -1_000_000, -1_000_001, 8.64e18, -8.64e18, 8.64e18 + 999, -8.64e18 - 1, 8.64e18 + 1000, 8.64e18 + 500_000) },
);

const recordArb: fc.Arbitrary<NetTCPConnect> = fc.record({
  eventId: fc.oneof(fc.uuid(), text),
  eventName: fc.oneof({ weight: 8, arbitrary: fc.constant('NetTCPConnect') }, { weight: 1, arbitrary: text }),
  timestamp: micros,
  host: hostArb,
  process: fc.record({
    pid: fc.integer(), tid: fc.integer(), ppid: fc.option(fc.integer(), { nil: null }),
    uid: fc.nat(), gid: fc.nat(), comm: text, exe: fc.option(text, { nil: null }), cgroupId: fc.maxSafeNat(), containerId: fc.option(text, { nil: null }),
    args: fc.option(fc.array(text, { maxLength: 4 }), { nil: null }), argsCount: fc.option(fc.nat(), { nil: null }), argsTruncated: fc.option(fc.boolean(), { nil: null }),
    commandLine: fc.option(text, { nil: null }), startTime: fc.option(micros.filter((m) => Number.isInteger(m) && Math.abs(m) < 8.64e18), { nil: null }),
    entityId: fc.option(text, { nil: null }), parentComm: fc.option(text, { nil: null }), parentExe: fc.option(text, { nil: null }),
    ancestors: fc.option(fc.array(text, { maxLength: 3 }), { nil: null }), userName: fc.option(text, { nil: null }), groupName: fc.option(text, { nil: null }),
  }),
  netnsCookie: fc.maxSafeNat(),
  dstIP: fc.oneof(fc.ipV4(), fc.ipV6()),
  dstPort: fc.integer({ min: 0, max: 65535 }),
  family: fc.constantFrom('AF_INET', 'AF_INET6'),
  results: fc.array(fc.oneof(fc.domain(), text), { maxLength: 5 }),
  probe: fc.constantFrom('lsm', 'fentry', 'kprobe', 'cgroup', 'tracepoint'),
  srcIP: fc.option(fc.oneof(fc.ipV4(), fc.ipV6()), { nil: null }),
  srcPort: fc.option(fc.integer({ min: 0, max: 65535 }), { nil: null }),
  outcome: fc.option(fc.constantFrom(...CONNECT_OUTCOMES), { nil: null }),
  errno: fc.option(fc.constantFrom('ECONNREFUSED', 'ETIMEDOUT', 'E1234'), { nil: null }),
  outcomeDelayUs: fc.option(fc.nat(), { nil: null }),
  communityId: fc.option(text, { nil: null }),
}) as fc.Arbitrary<NetTCPConnect>;

/** Both throw (RangeError) or both give the same text. */
function same<T>(t: { is: (a: unknown, b: unknown, m?: string) => void }, a: () => T, b: () => T, what: string): void {
  let ea: unknown, eb: unknown, va: T | undefined, vb: T | undefined;
  try { va = a(); } catch (e) { ea = e; }
  try { vb = b(); } catch (e) { eb = e; }
  t.is(ea?.constructor, eb?.constructor, what);
  t.is(va, vb, what);
}

test('fuzz: isoMicros gives the text (or the RangeError) it gave before', (t) => {
  fc.assert(fc.property(fc.array(micros, { minLength: 1, maxLength: 30 }), (ms) => {
    for (const m of ms) same(t, () => isoMicros(m), () => oldIsoMicros(m), String(m));
  }), { numRuns: 400, seed: 7 });
  for (const m of [NaN, Infinity, -Infinity, 0.5, -0.5, -0, 1e-9, 8.64e18 + 999.5]) same(t, () => isoMicros(m), () => oldIsoMicros(m), String(m));
});

test('fuzz: ECS documents byte for byte as before, hosts and event names changing or not', (t) => {
  const enc = new EcsJsonEncoder({ slabBytes: 2048 });
  fc.assert(fc.property(fc.array(recordArb, { minLength: 1, maxLength: 30 }), (records) => {
    for (const r of records) {
      let want: string;
      try { want = oldEcsJson(r); } catch (e) {
        t.throws(() => enc.encode(r), { instanceOf: (e as Error).constructor as new () => Error });
        continue;
      }
      t.is(ecsJson(r), want);
      const got = enc.encode(r);
      if (!got.equals(Buffer.from(want, 'utf8'))) t.is(got.toString('utf8'), want);
    }
  }), { numRuns: 300, seed: 11 });
});

test('a host changed in place is not taken for the one before', (t) => {
  const host = { ...sharedHost };
  const r = sampleRecord({ host });
  t.is(ecsJson(r), oldEcsJson(r));
  host.name = 'renamed';
  host.machineId = '';
  t.is(ecsJson(r), oldEcsJson(r));
  t.true(ecsJson(r).includes('"host":{"name":"renamed","boot":'));
  const odd = sampleRecord({ eventName: undefined as never, host: { ...sharedHost, bootId: undefined as never } });
  t.is(ecsJson(odd), oldEcsJson(odd));
  t.is(ecsJson(sampleRecord()), oldEcsJson(sampleRecord()));
});
