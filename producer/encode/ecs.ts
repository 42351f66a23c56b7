// ECS JSON encoding: one Elastic Common Schema document per Kafka message, for
// Filebeat / Elastic Agent (kafka input + ndjson parser) and any JSON consumer.
//
// Mapping (every field of NET_TCP_CONNECT_SHAPE appears, see ECS_FIELD_MAP):
//   @timestamp          timestamp, ISO 8601 UTC with microseconds ("2025-01-02T03:04:05.123456Z")
//   event.kind          "event"
//   event.category      ["network"]
//   event.type          ["connection", "start"]
//   event.action        "connection-attempted" (connect() was called; event.outcome says how it went)
//   event.outcome       from outcome: established -> success, in_progress -> unknown, the others -> failure
//                       (absent when outcome is null: the outcome join is off)
//   event.duration      outcomeDelayUs in ns: connect() to its outcome
//   error.code          errno (the symbolic name, e.g. ECONNREFUSED)
//   event.id            eventId
//   event.module        "conntrail"
//   event.dataset       "conntrail.net_tcp_connect"
//   event.provider      probe (lsm, fentry, kprobe, cgroup, tracepoint)
//   network.direction   "egress"
//   network.transport   "tcp", network.iana_number "6"
//   network.type        "ipv6" when dstIP is IPv6 text, else "ipv4" (an AF_INET6 socket connecting to
//                       an IPv4-mapped address sends IPv4; the socket family is kept in conntrail.family)
//   destination.ip/port dstIP / dstPort; source.ip/port srcIP / srcPort (absent when null)
//   network.community_id communityId
//   destination.domain  results[0] (the DNS question name) when results is not empty; absent otherwise
//   process.pid, process.name (comm), process.executable (exe, absent when null),
//   process.parent.pid (ppid, absent when null), process.thread.id (tid),
//   process.args, process.args_count, process.command_line, process.start (startTime),
//   process.entity_id, process.parent.name (parentComm), process.parent.executable (parentExe)
//   user.id, group.id   uid / gid as strings (ECS keyword); user.name, group.name
//   host.name, host.id (machineId, absent when empty), host.boot.id (bootId)
//   container.id        containerId (absent when null)
//   related.ip          [dstIP, srcIP]; related.hosts = results (absent when empty)
//   conntrail.*         event_name, results (all names, CNAME chain included), family, probe,
//                       netns_cookie, cgroup_id, process.args_truncated, process.ancestors,
//                       outcome (the detailed value: refused, timeout...):
//                       the raw fields ECS has no place for
//   ecs.version         ECS_VERSION
// Nulls are left out rather than written as null (ECS convention).
import { ecsEventOutcome } from '../model/connect-outcome.ts';
import type { NetTCPConnect } from '../model/net-tcp-connect.ts';
import type { RecordEncoder } from './types.ts';

export const ECS_VERSION = '8.11.0';
export const ECS_EVENT_ACTION = 'connection-attempted';
export const ECS_EVENT_MODULE = 'conntrail';
export const ECS_EVENT_DATASET = 'conntrail.net_tcp_connect';

/**
 * Where each field of NET_TCP_CONNECT_SHAPE lands in the ECS document (dotted
 * paths). test/unit/ecs.test.ts walks the shape and fails on a field missing here.
 */
export const ECS_FIELD_MAP: Readonly<Record<string, readonly string[]>> = {
  eventId: ['event.id'],
  eventName: ['conntrail.event_name'],
  timestamp: ['@timestamp'],
  'host.name': ['host.name'],
  'host.machineId': ['host.id'],
  'host.bootId': ['host.boot.id'],
  'process.pid': ['process.pid'],
  'process.tid': ['process.thread.id'],
  'process.ppid': ['process.parent.pid'],
  'process.uid': ['user.id'],
  'process.gid': ['group.id'],
  'process.comm': ['process.name'],
  'process.exe': ['process.executable'],
  'process.cgroupId': ['conntrail.cgroup_id'],
  'process.containerId': ['container.id'],
  'process.args': ['process.args'],
  'process.argsCount': ['process.args_count'],
  'process.argsTruncated': ['conntrail.process.args_truncated'],
  'process.commandLine': ['process.command_line'],
  'process.startTime': ['process.start'],
  'process.entityId': ['process.entity_id'],
  'process.parentComm': ['process.parent.name'],
  'process.parentExe': ['process.parent.executable'],
  'process.ancestors': ['conntrail.process.ancestors'],
  'process.userName': ['user.name'],
  'process.groupName': ['group.name'],
  netnsCookie: ['conntrail.netns_cookie'],
  dstIP: ['destination.ip', 'related.ip'],
  dstPort: ['destination.port'],
  family: ['conntrail.family'],
  results: ['conntrail.results', 'destination.domain', 'related.hosts'],
  probe: ['event.provider', 'conntrail.probe'],
  srcIP: ['source.ip', 'related.ip'],
  srcPort: ['source.port'],
  outcome: ['event.outcome', 'conntrail.outcome'],
  errno: ['error.code'],
  outcomeDelayUs: ['event.duration'],
  communityId: ['network.community_id'],
};

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** "000".."999". */
const PAD3: readonly string[] = Array.from({ length: 1000 }, (_, i) => pad(i, 3));
const pad3 = (n: number): string => PAD3[n] ?? pad(n, 3);
/** Largest |ms| a Date holds. */
const MAX_DATE_MS = 8.64e15;
// The date and time to the second of the last timestamp formatted: records come
// in time order, so most share it with the one before.
let isoSecond = NaN;
let isoSecondText = '';

/** Microseconds since the epoch -> "YYYY-MM-DDTHH:MM:SS.ffffffZ". */
export function isoMicros(micros: number): string {
  const ms = Math.floor(micros / 1000);
  const frac = micros - ms * 1000; // 0..999 microseconds within the millisecond
  if (!(Math.abs(ms) <= MAX_DATE_MS)) {
    const iso = new Date(ms).toISOString(); // throws RangeError, as toISOString does
    return iso.slice(0, iso.length - 1) + pad(Math.floor(frac), 3) + 'Z';
  }
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    const iso = new Date(second * 1000).toISOString(); // ...SS.000Z
    isoSecondText = iso.slice(0, iso.length - 4);
    isoSecond = second;
  }
  return isoSecondText + pad3(ms - second * 1000) + pad3(Math.floor(frac)) + 'Z';
}

const str = JSON.stringify as (s: string) => string;

function strArray(a: readonly string[]): string {
  let out = '[';
  for (let i = 0; i < a.length; i++) out += (i === 0 ? '' : ',') + str(a[i] as string);
  return out + ']';
}

// The host and event name parts of the last document, reused while the record's
// strings are the same (every record of a process has the same host and name).
const lastHost = { name: '', machineId: '', bootId: '', json: '' };
let lastEventName = '';
let lastEventNameJson = '';

function hostJson(h: NetTCPConnect['host']): string {
  const c = lastHost;
  if (h.name === c.name && h.machineId === c.machineId && h.bootId === c.bootId && c.json !== '') return c.json;
  const json = ',"host":{"name":' + str(h.name) + (h.machineId !== '' ? ',"id":' + str(h.machineId) : '') + ',"boot":{"id":' + str(h.bootId) + '}}';
  if (typeof h.name === 'string' && typeof h.machineId === 'string' && typeof h.bootId === 'string') {
    c.name = h.name;
    c.machineId = h.machineId;
    c.bootId = h.bootId;
    c.json = json;
  }
  return json;
}

function eventNameJson(name: string): string {
  if (name === lastEventName && lastEventNameJson !== '') return lastEventNameJson;
  const json = ',"conntrail":{"event_name":' + str(name);
  if (typeof name === 'string') {
    lastEventName = name;
    lastEventNameJson = json;
  }
  return json;
}

/** Builds the ECS document as a JSON string (no intermediate object). */
export function ecsJson(r: NetTCPConnect): string {
  const p = r.process;
  const h = r.host;
  const hasNames = r.results.length > 0;
  const ipText = str(r.dstIP);
  const probe = str(r.probe);
  let s = '{"@timestamp":"' + isoMicros(r.timestamp) + '"';
  s += ',"event":{"kind":"event","category":["network"],"type":["connection","start"],"action":"' + ECS_EVENT_ACTION + '"';
  s += ',"id":' + str(r.eventId) + ',"module":"' + ECS_EVENT_MODULE + '","dataset":"' + ECS_EVENT_DATASET + '","provider":' + probe;
  if (r.outcome !== null) s += ',"outcome":"' + ecsEventOutcome(r.outcome) + '"';
  if (r.outcomeDelayUs !== null) s += ',"duration":' + r.outcomeDelayUs * 1000;
  s += '}';
  s += ',"network":{"direction":"egress","transport":"tcp","iana_number":"6","type":"' + (r.dstIP.includes(':') ? 'ipv6' : 'ipv4') + '"';
  if (r.communityId !== null) s += ',"community_id":' + str(r.communityId);
  s += '}';
  s += ',"destination":{"ip":' + ipText + ',"port":' + r.dstPort + (hasNames ? ',"domain":' + str(r.results[0] as string) : '') + '}';
  const srcText = r.srcIP === null ? '' : str(r.srcIP);
  if (r.srcIP !== null || r.srcPort !== null) {
    s += ',"source":{' + (r.srcIP !== null ? '"ip":' + srcText + (r.srcPort !== null ? ',' : '') : '') + (r.srcPort !== null ? '"port":' + r.srcPort : '') + '}';
  }
  if (r.errno !== null) s += ',"error":{"code":' + str(r.errno) + '}';
  s += ',"process":{"pid":' + p.pid + ',"name":' + str(p.comm);
  if (p.exe !== null) s += ',"executable":' + str(p.exe);
  if (p.args !== null) s += ',"args":' + strArray(p.args);
  if (p.argsCount !== null) s += ',"args_count":' + p.argsCount;
  if (p.commandLine !== null) s += ',"command_line":' + str(p.commandLine);
  if (p.startTime !== null) s += ',"start":"' + isoMicros(p.startTime) + '"';
  if (p.entityId !== null) s += ',"entity_id":' + str(p.entityId);
  if (p.ppid !== null || p.parentComm !== null || p.parentExe !== null) {
    let parent = '';
    if (p.ppid !== null) parent += ',"pid":' + p.ppid;
    if (p.parentComm !== null) parent += ',"name":' + str(p.parentComm);
    if (p.parentExe !== null) parent += ',"executable":' + str(p.parentExe);
    s += ',"parent":{' + parent.slice(1) + '}';
  }
  s += ',"thread":{"id":' + p.tid + '}}';
  s += ',"user":{"id":"' + p.uid + '"' + (p.userName !== null ? ',"name":' + str(p.userName) : '') + '}';
  s += ',"group":{"id":"' + p.gid + '"' + (p.groupName !== null ? ',"name":' + str(p.groupName) : '') + '}';
  s += hostJson(h);
  if (p.containerId !== null) s += ',"container":{"id":' + str(p.containerId) + '}';
  s += ',"related":{"ip":[' + ipText + (r.srcIP !== null ? ',' + srcText : '') + ']' + (hasNames ? ',"hosts":' + strArray(r.results) : '') + '}';
  s += eventNameJson(r.eventName) + ',"results":' + strArray(r.results) + ',"family":' + str(r.family);
  s += ',"probe":' + probe + ',"netns_cookie":' + r.netnsCookie + ',"cgroup_id":' + p.cgroupId;
  if (r.outcome !== null) s += ',"outcome":' + str(r.outcome);
  if (p.argsTruncated !== null || p.ancestors !== null) {
    let proc = '';
    if (p.argsTruncated !== null) proc += ',"args_truncated":' + p.argsTruncated;
    if (p.ancestors !== null) proc += ',"ancestors":' + strArray(p.ancestors);
    s += ',"process":{' + proc.slice(1) + '}';
  }
  s += '}';
  s += ',"ecs":{"version":"' + ECS_VERSION + '"}}';
  return s;
}

/**
 * One ECS JSON document (UTF-8, no trailing newline) per record. The bytes are
 * written into a reusable slab (as the Avro encoder does): a value is a view of
 * it, one allocation per slab instead of one per record.
 */
export class EcsJsonEncoder implements RecordEncoder {
  readonly format = 'ecs-json' as const;
  readonly #slabBytes: number;
  #slab: Buffer;
  #pos = 0;

  constructor(options: { slabBytes?: number } = {}) {
    this.#slabBytes = Math.max(options.slabBytes ?? 256 * 1024, 1024);
    this.#slab = Buffer.allocUnsafeSlow(this.#slabBytes);
  }

  encode(r: NetTCPConnect): Buffer {
    const text = ecsJson(r);
    const worst = text.length * 3; // UTF-8 bytes per UTF-16 code unit, at most
    if (this.#slab.length - this.#pos < worst) {
      this.#slab = Buffer.allocUnsafeSlow(Math.max(this.#slabBytes, worst));
      this.#pos = 0;
    }
    const start = this.#pos;
    const n = this.#slab.write(text, start, 'utf8');
    this.#pos = start + n;
    return this.#slab.subarray(start, start + n);
  }
}
