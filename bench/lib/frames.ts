// Synthetic capture input: real ring-buffer frames in the layout of
// bpf/src/conntrail.h (offsets from the addon's getLayout(), never hard-coded),
// framed as the native loader hands them to JavaScript:
// [u32 length][u32 0][record][pad to 8], batches of about 1 MiB.
//
// The stream looks like a busy host: DNS replies (built with dns-packet; some
// with CNAME chains, some AAAA) interleaved with TCP connects, about 70% of
// which go to an address a reply named, the rest to unnamed IPv4/IPv6
// addresses. Connects come from real processes of this machine (pid and start
// time from /proc), so the process-context cache behaves as in production.
import { readdirSync, readFileSync } from 'node:fs';
import dnsPacket from 'dns-packet';
import { getLayout } from 'bpf-native-loader';
import type { RecordLayout } from 'bpf-native-loader';
import { parseProcStat } from '../../producer/source/process-context.ts';

export interface SyntheticOptions {
  /** Connect records to generate (DNS records come on top). */
  connects: number;
  /** Share of connects to an address some DNS reply named. Default 0.7. */
  namedShare?: number;
  /** Share of IPv6 among the unnamed destinations and of domains with AAAA answers. Default 0.25. */
  ipv6Share?: number;
  /** Distinct domain names. Default 2000. */
  domains?: number;
  /** A DNS reply before a connect with this probability. Default 0.1. */
  dnsPerConnect?: number;
  /** Each connect followed by its handshake's outcome record (established, joined by socket cookie). Default true. */
  outcomes?: boolean;
  /** Batch size, bytes. Default 1 MiB (the loader's default batchBytes). */
  batchBytes?: number;
  /** Kernel time of the first record (boot clock ns) and spacing between records. */
  startKtimeNs?: bigint;
  spacingNs?: bigint;
  seed?: number;
}

export interface SyntheticInput {
  batches: Buffer[];
  connects: number;
  dnsReplies: number;
  /** Connects whose destination a previous reply named (the enricher should find names for these). */
  namedConnects: number;
  ipv6Connects: number;
  bytes: number;
  processes: number;
}

/** mulberry32: small, fast, seeded. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Proc { pid: number; tid: number; ppid: number; uid: number; gid: number; startNs: bigint; comm: string; cgroupId: bigint }

const NS_PER_TICK = 10_000_000n; // USER_HZ 100

/** Up to `max` live processes of this machine (pid, ppid, start time, comm). */
export function realProcesses(max: number, rand: () => number): Proc[] {
  const out: Proc[] = [];
  let pids: number[] = [];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map(Number);
  } catch {
    pids = [];
  }
  for (const pid of pids) {
    if (out.length >= max) break;
    try {
      const stat = parseProcStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      if (!stat || stat.ppid === 2 || pid === 2) continue; // kernel threads
      const comm = readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
      out.push({ pid, tid: pid, ppid: stat.ppid, uid: 0, gid: 0, startNs: stat.startTicks * NS_PER_TICK, comm, cgroupId: BigInt(1000 + Math.floor(rand() * 50)) });
    } catch {
      // raced with exit
    }
  }
  // Made-up processes when /proc has too few (they resolve as "exited").
  for (let i = out.length; i < Math.min(max, 8); i++) {
    out.push({ pid: 400000 + i, tid: 400000 + i, ppid: 1, uid: 1000, gid: 1000, startNs: BigInt(i + 1) * 1_000_000_000n, comm: `worker-${i}`, cgroupId: 4242n });
  }
  return out;
}

const WORDS = ['api', 'cdn', 'auth', 'login', 'static', 'images', 'telemetry', 'events', 'storage', 'db', 'cache', 'search',
  'mail', 'update', 'registry', 'metrics', 'logs', 'payments', 'edge', 'gateway', 'sync', 'push', 'ws', 'graphql'];
const TLDS = ['com', 'net', 'io', 'org', 'cloud', 'dev'];
const PORTS = [443, 443, 443, 443, 80, 8443, 5432, 6379, 9092, 3306, 22, 53];

interface Domain { name: string; chain: string[]; v6: boolean; addrs: Buffer[]; reply: Buffer }

function ipv4Bytes(rand: () => number): Buffer {
  // spread over 10.0.0.0/8 and 100.64.0.0/10: data only, never a connect target
  const b = Buffer.alloc(16);
  if (rand() < 0.5) { b[0] = 10; b[1] = Math.floor(rand() * 256); } else { b[0] = 100; b[1] = 64 + Math.floor(rand() * 64); }
  b[2] = Math.floor(rand() * 256);
  b[3] = 1 + Math.floor(rand() * 254);
  return b;
}

function ipv6Bytes(rand: () => number): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt32BE(0x20010db8, 0); // documentation prefix
  for (let i = 4; i < 16; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

function ipText(b: Buffer, v6: boolean): string {
  if (!v6) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const g: string[] = [];
  for (let i = 0; i < 8; i++) g.push(b.readUInt16BE(i * 2).toString(16));
  return g.join(':');
}

function makeDomain(i: number, rand: () => number, ipv6Share: number): Domain {
  const w = (): string => WORDS[Math.floor(rand() * WORDS.length)]!;
  const name = `${w()}${i}.${w()}-${Math.floor(rand() * 100)}.example-${TLDS[Math.floor(rand() * TLDS.length)]!}.test`;
  const v6 = rand() < ipv6Share;
  const chain: string[] = [];
  const cnames = rand() < 0.35 ? 1 + Math.floor(rand() * 2) : 0;
  for (let c = 0; c < cnames; c++) chain.push(`${w()}-${i}-${c}.edge-${Math.floor(rand() * 20)}.cdn-provider.test`);
  const addrs: Buffer[] = [];
  const n = 1 + Math.floor(rand() * 4);
  for (let a = 0; a < n; a++) addrs.push(v6 ? ipv6Bytes(rand) : ipv4Bytes(rand));
  const answers: dnsPacket.Answer[] = [];
  let owner = name;
  for (const target of chain) {
    answers.push({ type: 'CNAME', name: owner, ttl: 300, data: target });
    owner = target;
  }
  for (const a of addrs) answers.push({ type: v6 ? 'AAAA' : 'A', name: owner, ttl: 60 + Math.floor(rand() * 3600), data: ipText(a, v6) } as dnsPacket.Answer);
  const reply = dnsPacket.encode({
    type: 'response', id: i & 0xffff, flags: dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE,
    questions: [{ type: v6 ? 'AAAA' : 'A', name }], answers,
  });
  return { name, chain, v6, addrs, reply };
}

/** Writes framed records into a growing list of batches. */
class BatchWriter {
  readonly batches: Buffer[] = [];
  bytes = 0;
  #buf: Buffer;
  #off = 0;
  readonly #size: number;
  constructor(size: number) {
    this.#size = size;
    this.#buf = Buffer.alloc(size);
  }
  /** Space for one record of `len` bytes; returns its offset in the current buffer. */
  reserve(len: number): { buf: Buffer; at: number } {
    const frame = 8 + ((len + 7) & ~7);
    if (this.#off + frame > this.#size) this.flush();
    const at = this.#off + 8;
    this.#buf.writeUInt32LE(len, this.#off);
    this.#buf.writeUInt32LE(0, this.#off + 4);
    this.#off += frame;
    this.bytes += frame;
    return { buf: this.#buf, at };
  }
  flush(): void {
    if (this.#off === 0) return;
    this.batches.push(this.#buf.subarray(0, this.#off));
    this.#buf = Buffer.alloc(this.#size);
    this.#off = 0;
  }
}

/** Zeroes a record of `h.size` bytes at `at` and writes its struct ct_hdr. */
function writeHeader(l: RecordLayout, buf: Buffer, at: number, h: { kind: number; size: number; probe: number; flags: number; ktime: bigint }): void {
  buf.fill(0, at, at + h.size);
  buf.writeUInt16LE(h.kind, at + l.header.kind);
  buf.writeUInt16LE(h.size, at + l.header.recordSize);
  buf[at + l.header.probe] = h.probe;
  buf[at + l.header.flags] = h.flags;
  buf.writeBigUInt64LE(h.ktime, at + l.header.ktimeNs);
}

const NETNS = 4026531840n;
/** The source addresses of the synthetic handshakes. */
const LOCAL4 = Buffer.from([192, 0, 2, 10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
const LOCAL6 = Buffer.from([0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10]);

/** Builds the frames. Deterministic for a given seed (except the process list). */
export function buildSyntheticInput(opts: SyntheticOptions, layout: RecordLayout = getLayout()): SyntheticInput {
  const rand = rng(opts.seed ?? 42);
  const namedShare = opts.namedShare ?? 0.7;
  const ipv6Share = opts.ipv6Share ?? 0.25;
  const dnsP = opts.dnsPerConnect ?? 0.1;
  const procs = realProcesses(40, rand);
  const domains: Domain[] = [];
  for (let i = 0; i < (opts.domains ?? 2000); i++) domains.push(makeDomain(i, rand, ipv6Share));
  const resolved: Domain[] = [];
  const w = new BatchWriter(opts.batchBytes ?? 1 << 20);
  const l = layout;
  let ktime = opts.startKtimeNs ?? 1_000_000_000_000n;
  const step = opts.spacingNs ?? 5_000n;
  let dnsCount = 0;
  let named = 0;
  let v6count = 0;
  let cookie = 1n;
  const withOutcomes = opts.outcomes ?? true;
  const o = l.outcome;

  const writeDns = (d: Domain): void => {
    const cap = Math.min(d.reply.length, 512);
    const len = l.dns.size + cap;
    const { buf, at } = w.reserve(len);
    writeHeader(l, buf, at, { kind: l.kinds.dns, size: len, probe: l.probes.dnsSkb, flags: 0, ktime });
    buf.writeBigUInt64LE(NETNS, at + l.dns.netnsCookie);
    buf.writeUInt32LE(1, at + l.dns.ifindex);
    buf.writeUInt16LE(2, at + l.dns.family);
    buf[at + l.dns.transport] = 17;
    buf.writeUInt16LE(53, at + l.dns.srcPort);
    buf.writeUInt16LE(30000 + Math.floor(rand() * 30000), at + l.dns.dstPort);
    buf.writeUInt32LE(d.reply.length, at + l.dns.payloadLength);
    buf.writeUInt32LE(cap, at + l.dns.capturedLength);
    buf.set([127, 0, 0, 53], at + l.dns.srcAddr);
    buf.set([127, 0, 0, 1], at + l.dns.dstAddr);
    d.reply.copy(buf, at + l.dns.payload, 0, cap);
    ktime += step;
    dnsCount++;
  };

  // A few lookups before the first connect.
  for (let i = 0; i < Math.min(50, domains.length); i++) {
    writeDns(domains[i]!);
    resolved.push(domains[i]!);
  }

  const c = l.connect;
  for (let n = 0; n < opts.connects; n++) {
    if (rand() < dnsP) {
      const d = domains[Math.floor(rand() * domains.length)]!;
      if (!resolved.includes(d)) resolved.push(d);
      writeDns(d);
    }
    let addr: Buffer;
    let v6: boolean;
    if (rand() < namedShare) {
      const d = resolved[Math.floor(rand() * resolved.length)]!;
      addr = d.addrs[Math.floor(rand() * d.addrs.length)]!;
      v6 = d.v6;
      named++;
    } else {
      v6 = rand() < ipv6Share;
      addr = v6 ? ipv6Bytes(rand) : ipv4Bytes(rand);
    }
    if (v6) v6count++;
    const p = procs[Math.floor(rand() * procs.length)]!;
    const { buf, at } = w.reserve(c.size);
    writeHeader(l, buf, at, { kind: l.kinds.connect, size: c.size, probe: l.probes.cgroup, flags: l.flags.cookie, ktime });
    buf.writeUInt32LE(p.pid, at + c.pid);
    buf.writeUInt32LE(p.tid, at + c.tid);
    buf.writeUInt32LE(p.uid, at + c.uid);
    buf.writeUInt32LE(p.gid, at + c.gid);
    buf.writeUInt32LE(p.ppid, at + c.ppid);
    buf.writeUInt16LE(v6 ? 10 : 2, at + c.family);
    buf.writeUInt16LE(1, at + c.sockType);
    buf.writeUInt16LE(6, at + c.protocol);
    buf.writeUInt16LE(PORTS[Math.floor(rand() * PORTS.length)]!, at + c.dstPort);
    buf.writeBigUInt64LE(p.startNs, at + c.procStartNs);
    buf.writeBigUInt64LE(p.cgroupId, at + c.cgroupId);
    buf.writeBigUInt64LE(NETNS, at + c.netnsCookie);
    buf.writeBigUInt64LE(cookie++, at + c.socketCookie);
    addr.copy(buf, at + c.dstAddr, 0, 16);
    buf.write(p.comm.slice(0, 15), at + c.comm, 'utf8');
    ktime += step;
    if (withOutcomes) {
      const dport = buf.readUInt16LE(at + c.dstPort);
      const { buf: ob, at: oa } = w.reserve(o.size);
      writeHeader(l, ob, oa, { kind: l.kinds.outcome, size: o.size, probe: l.probes.outcomeState, flags: l.flags.cookie, ktime });
      ob.writeBigUInt64LE(cookie - 1n, oa + o.socketCookie);
      ob.writeUInt16LE(v6 ? 10 : 2, oa + o.family);
      ob[oa + o.newState] = l.tcpStates.established;
      ob.writeUInt16LE(32768 + Math.floor(rand() * 28000), oa + o.srcPort);
      ob.writeUInt16LE(dport, oa + o.dstPort);
      (v6 ? LOCAL6 : LOCAL4).copy(ob, oa + o.srcAddr);
      addr.copy(ob, oa + o.dstAddr, 0, 16);
      ktime += step;
    }
  }
  w.flush();
  return { batches: w.batches, connects: opts.connects, dnsReplies: dnsCount, namedConnects: named, ipv6Connects: v6count, bytes: w.bytes, processes: procs.length };
}
