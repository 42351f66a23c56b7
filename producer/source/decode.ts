// Decodes a RawBatch's Buffer (framed kernel records, layout from
// bpf/src/conntrail.h via getLayout()) into typed events. Never throws on bad
// input: a malformed record is counted by reason and skipped.
import { getLayout, PROBE_NAMES } from 'bpf-native-loader';
import type { ProbeName, RecordLayout } from 'bpf-native-loader';
import { communityIdOfBytes } from '../model/community-id.ts';
import { formatIp } from '../model/ip.ts';
import { MALFORMED_REASONS } from './types.ts';
import type { CaptureEvent, ConnectEvent, ConnectOutcomeEvent, DnsReplyEvent, MalformedReason, ProcessExecEvent } from './types.ts';

const IPPROTO_TCP = 6;
const IPPROTO_UDP = 17;

export interface DecoderOptions {
  /** Defaults to getLayout() (needs the addon). */
  layout?: RecordLayout;
  /** CLOCK_REALTIME - CLOCK_BOOTTIME, ns (default 0: timestampUs = ktimeNs / 1000); a bigint keeps it exact. */
  wallOffsetNs?: bigint | number;
}

const TWO32 = 4294967296;

/**
 * The little-endian u64 at `off` as a number: exact below 2^53 (ids, cookies,
 * boot-clock ns for 104 days of uptime), the nearest double above.
 */
export function readU64(b: Buffer, off: number): number {
  return b.readUInt32LE(off + 4) * TWO32 + b.readUInt32LE(off);
}

export interface DecodeCounts {
  connect: number;
  dns: number;
  outcome: number;
  exec: number;
  byProbe: Record<ProbeName, number>;
  malformed: Record<MalformedReason, number>;
}

export class RecordDecoder {
  readonly counts: DecodeCounts;
  readonly #l: RecordLayout;
  readonly #probeNames: (ProbeName | undefined)[];
  readonly #comms = new CommCache();
  #wallOffsetNs = 0n;
  /** The wall offset split as floor(offset / 1000) µs + a remainder in [0, 1000) ns: both exact numbers. */
  #offUs = 0;
  #offRemNs = 0;

  constructor(opts: DecoderOptions = {}) {
    this.#l = opts.layout ?? getLayout();
    this.setWallOffset(opts.wallOffsetNs ?? 0n);
    this.#probeNames = [];
    for (const name of PROBE_NAMES) this.#probeNames[this.#l.probes[name]] = name;
    this.counts = {
      connect: 0,
      dns: 0,
      outcome: 0,
      exec: 0,
      byProbe: Object.fromEntries(PROBE_NAMES.map((name) => [name, 0])) as Record<ProbeName, number>,
      malformed: Object.fromEntries(MALFORMED_REASONS.map((r) => [r, 0])) as Record<MalformedReason, number>,
    };
  }

  /** Boot clock to wall clock offset, ns; refresh it with setWallOffset(). */
  get wallOffsetNs(): bigint {
    return this.#wallOffsetNs;
  }

  set wallOffsetNs(ns: bigint | number) {
    this.setWallOffset(ns);
  }

  setWallOffset(ns: bigint | number): void {
    const n = typeof ns === 'bigint' ? ns : BigInt(Math.round(ns));
    let us = n / 1000n;
    let rem = n % 1000n;
    if (rem < 0n) {
      rem += 1000n;
      us -= 1n;
    }
    this.#wallOffsetNs = n;
    this.#offUs = Number(us);
    this.#offRemNs = Number(rem);
  }

  /**
   * Wall clock in µs since the epoch of the boot-clock ns hi * 2^32 + lo, exact
   * (until the year 2255, 2^53 µs): hi * 2^32 = 1000 * (hi * 4294967) + hi * 296,
   * and every term stays below 2^53.
   */
  #wallUs(hi: number, lo: number): number {
    const m = hi * 296 + lo + this.#offRemNs;
    const rem = m % 1000;
    return hi * 4294967 + (m - rem) / 1000 + this.#offUs;
  }

  /** Appends the events of one batch to `out` (returned). */
  decode(data: Buffer, out: CaptureEvent[] = []): CaptureEvent[] {
    const l = this.#l;
    const fh = l.frameHeaderBytes;
    let off = 0;
    while (off < data.length) {
      if (off + fh > data.length) {
        this.counts.malformed.shortFrame++;
        break;
      }
      const len = data.readUInt32LE(off);
      const rec = off + fh;
      if (rec + len > data.length) {
        this.counts.malformed.shortFrame++;
        break;
      }
      off = rec + ((len + 7) & ~7);
      if (len < l.header.size) {
        this.counts.malformed.shortRecord++;
        continue;
      }
      const kind = data.readUInt16LE(rec + l.header.kind);
      const size = data.readUInt16LE(rec + l.header.recordSize);
      if (size !== len) {
        this.counts.malformed.badSize++;
        continue;
      }
      if (kind === l.kinds.connect) {
        const ev = this.#connect(data, rec, len);
        if (ev) out.push(ev);
      } else if (kind === l.kinds.dns) {
        const ev = this.#dns(data, rec, len);
        if (ev) out.push(ev);
      } else if (kind === l.kinds.outcome) {
        const ev = this.#outcome(data, rec, len);
        if (ev) out.push(ev);
      } else if (kind === l.kinds.exec) {
        const ev = this.#exec(data, rec, len);
        if (ev) out.push(ev);
      } else {
        this.counts.malformed.unknownKind++;
      }
    }
    return out;
  }

  #connect(b: Buffer, r: number, len: number): ConnectEvent | undefined {
    const l = this.#l;
    const c = l.connect;
    if (len !== c.size) {
      this.counts.malformed[len < c.size ? 'shortRecord' : 'badSize']++;
      return undefined;
    }
    const probe = this.#probeNames[b[r + l.header.probe]!];
    if (!probe) {
      this.counts.malformed.unknownProbe++;
      return undefined;
    }
    const flags = b[r + l.header.flags]!;
    const kt = r + l.header.ktimeNs;
    const ktHi = b.readUInt32LE(kt + 4);
    const ktLo = b.readUInt32LE(kt);
    const family = b.readUInt16LE(r + c.family);
    const protocol = b.readUInt16LE(r + c.protocol);
    this.counts.connect++;
    this.counts.byProbe[probe]++;
    return {
      kind: 'connect',
      ktimeNs: ktHi * TWO32 + ktLo,
      timestampUs: this.#wallUs(ktHi, ktLo),
      pid: b.readUInt32LE(r + c.pid),
      tid: b.readUInt32LE(r + c.tid),
      uid: b.readUInt32LE(r + c.uid),
      gid: b.readUInt32LE(r + c.gid),
      comm: this.#comms.get(b, r + c.comm, l.commLen),
      cgroupId: readU64(b, r + c.cgroupId),
      netnsCookie: readU64(b, r + c.netnsCookie),
      family,
      sockType: b.readUInt16LE(r + c.sockType),
      protocol,
      transport: protocol === IPPROTO_TCP ? 'tcp' : protocol === IPPROTO_UDP ? 'udp' : 'other',
      dstIP: formatIp(b, r + c.dstAddr, family),
      dstPort: b.readUInt16LE(r + c.dstPort),
      socketCookie: readU64(b, r + c.socketCookie),
      socketCookieValid: (flags & l.flags.cookie) !== 0,
      probe,
      toctou: (flags & l.flags.toctou) !== 0,
      ppid: b.readUInt32LE(r + c.ppid),
      procStartNs: readU64(b, r + c.procStartNs),
    };
  }

  #dns(b: Buffer, r: number, len: number): DnsReplyEvent | undefined {
    const l = this.#l;
    const d = l.dns;
    if (len < d.size) {
      this.counts.malformed.shortRecord++;
      return undefined;
    }
    const captured = b.readUInt32LE(r + d.capturedLength);
    const payloadLength = b.readUInt32LE(r + d.payloadLength);
    if (captured > l.dnsMaxCap) {
      this.counts.malformed.badPayloadLength++;
      return undefined;
    }
    if (len !== d.size + captured) {
      this.counts.malformed.badSize++;
      return undefined;
    }
    const kt = r + l.header.ktimeNs;
    const ktHi = b.readUInt32LE(kt + 4);
    const ktLo = b.readUInt32LE(kt);
    const family = b.readUInt16LE(r + d.family);
    const payload = Buffer.allocUnsafe(captured); // a copy: the batch buffer is not kept alive
    b.copy(payload, 0, r + d.payload, r + d.payload + captured);
    this.counts.dns++;
    return {
      kind: 'dns',
      ktimeNs: ktHi * TWO32 + ktLo,
      timestampUs: this.#wallUs(ktHi, ktLo),
      netnsCookie: readU64(b, r + d.netnsCookie),
      family,
      transport: b[r + d.transport] === IPPROTO_TCP ? 'tcp' : 'udp',
      payload,
      payloadLength,
      truncated: captured < payloadLength,
      srcIP: formatIp(b, r + d.srcAddr, family),
      srcPort: b.readUInt16LE(r + d.srcPort),
      dstIP: formatIp(b, r + d.dstAddr, family),
      dstPort: b.readUInt16LE(r + d.dstPort),
      ifindex: b.readUInt32LE(r + d.ifindex),
    };
  }

  #outcome(b: Buffer, r: number, len: number): ConnectOutcomeEvent | undefined {
    const l = this.#l;
    const o = l.outcome;
    if (len !== o.size) {
      this.counts.malformed[len < o.size ? 'shortRecord' : 'badSize']++;
      return undefined;
    }
    const probe = b[r + l.header.probe]!;
    const state = probe === l.probes.outcomeState;
    if (!state && probe !== l.probes.outcomeSyscall) {
      this.counts.malformed.unknownProbe++;
      return undefined;
    }
    const family = b.readUInt16LE(r + o.family);
    const kt = r + l.header.ktimeNs;
    const srcPort = state ? b.readUInt16LE(r + o.srcPort) : 0;
    const dstPort = state ? b.readUInt16LE(r + o.dstPort) : 0;
    this.counts.outcome++;
    return {
      kind: 'outcome',
      source: state ? 'state' : 'syscall',
      ktimeNs: b.readUInt32LE(kt + 4) * TWO32 + b.readUInt32LE(kt),
      socketCookie: readU64(b, r + o.socketCookie),
      socketCookieValid: (b[r + l.header.flags]! & l.flags.cookie) !== 0,
      pid: b.readUInt32LE(r + o.pid),
      tid: b.readUInt32LE(r + o.tid),
      errno: Math.max(0, b.readInt32LE(r + o.err)),
      established: state && b[r + o.newState] === l.tcpStates.established,
      family: state ? family : 0,
      srcIP: state ? formatIp(b, r + o.srcAddr, family) : '',
      srcPort,
      dstIP: state ? formatIp(b, r + o.dstAddr, family) : '',
      dstPort,
      communityId: state && srcPort !== 0 ? communityIdOfBytes(b, family, r + o.srcAddr, srcPort, r + o.dstAddr, dstPort) : null,
    };
  }

  #exec(b: Buffer, r: number, len: number): ProcessExecEvent | undefined {
    const x = this.#l.exec;
    if (len < x.args) {
      this.counts.malformed.shortRecord++;
      return undefined;
    }
    const argsLength = b.readUInt32LE(r + x.argsLength);
    const filenameLength = b.readUInt32LE(r + x.filenameLength);
    if (argsLength > x.maxArgs || filenameLength >= x.filenameMax) {
      this.counts.malformed.badPayloadLength++;
      return undefined;
    }
    if (len !== x.args + argsLength) {
      this.counts.malformed.badSize++;
      return undefined;
    }
    const kt = r + this.#l.header.ktimeNs;
    const args = Buffer.allocUnsafe(argsLength); // a copy: the batch buffer is not kept alive
    b.copy(args, 0, r + x.args, r + x.args + argsLength);
    this.counts.exec++;
    return {
      kind: 'exec',
      ktimeNs: b.readUInt32LE(kt + 4) * TWO32 + b.readUInt32LE(kt),
      pid: b.readUInt32LE(r + x.pid),
      ppid: b.readUInt32LE(r + x.ppid),
      procStartNs: readU64(b, r + x.procStartNs),
      uid: b.readUInt32LE(r + x.uid),
      gid: b.readUInt32LE(r + x.gid),
      comm: this.#comms.get(b, r + x.comm, this.#l.commLen),
      filename: b.toString('utf8', r + x.filename, r + x.filename + filenameLength),
      args,
      argsSize: b.readUInt32LE(r + x.argsSize),
    };
  }
}

/** Comms a CommCache holds at most (then it starts over). */
const COMMS_MAX = 4096;
const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 16777619;

/**
 * The comms seen before: a host's connects come from a few programs, so most
 * records get an existing string instead of a new one from the bytes (a
 * native call and an allocation each). Keyed by a 30-bit hash of the bytes
 * (a small integer); a hit is checked against the bytes, a collision replaces.
 */
class CommCache {
  readonly #texts = new Map<number, string>();

  /** The NUL-terminated UTF-8 string of at most `max` bytes at `off`; cached when ASCII (a comm nearly always is). */
  get(b: Buffer, off: number, max: number): string {
    let h = FNV_OFFSET;
    let ascii = true;
    let end = off;
    for (const stop = off + max; end < stop; end++) {
      const c = b[end]!;
      if (c === 0) break;
      if (c > 0x7f) ascii = false;
      h = Math.imul(h ^ c, FNV_PRIME);
    }
    if (!ascii) return b.toString('utf8', off, end);
    const key = h & 0x3fffffff;
    const hit = this.#texts.get(key);
    if (hit !== undefined && hit.length === end - off) {
      let i = 0;
      while (i < hit.length && hit.charCodeAt(i) === b[off + i]) i++;
      if (i === hit.length) return hit;
    }
    const text = b.toString('latin1', off, end);
    if (this.#texts.size >= COMMS_MAX) this.#texts.clear();
    this.#texts.set(key, text);
    return text;
  }
}
