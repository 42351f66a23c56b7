// The record decoder against the C layout: records written by C (the addon's
// sampleRecords(), values below mirror bpf/native/loader.c) decode to the
// expected events; malformed input is counted by reason, never thrown.
import test from 'ava';
import fc from 'fast-check';
import { EXEC_MAX_ARGS, getLayout, isBuilt, sampleRecords } from 'bpf-native-loader';
import { RecordDecoder } from '../../producer/source/decode.ts';
import { communityId } from '../../producer/model/community-id.ts';
import { formatIp, writeIpBytes } from '../../producer/model/ip.ts';
import type { ConnectEvent, ConnectOutcomeEvent, DnsReplyEvent, ProcessExecEvent } from '../../producer/source/types.ts';

const skip = !isBuilt() && process.env.CONNTRAIL_SKIP_BPF_BUILD === '1';
const layoutTest = skip ? test.skip : test;

layoutTest('decodes records written by C with the header\'s layout', (t) => {
  const d = new RecordDecoder({ wallOffsetNs: 1_000_000_000_000_000_000n });
  const events = d.decode(sampleRecords());
  t.is(events.length, 6);
  const [c4, c6, dns, state, syscall, exec] = events as [ConnectEvent, ConnectEvent, DnsReplyEvent, ConnectOutcomeEvent, ConnectOutcomeEvent, ProcessExecEvent];
  t.deepEqual(c4, {
    kind: 'connect',
    ktimeNs: 123456789012345,
    timestampUs: 1_000_000_000_000_000 + 123456789012, // (1e18 + 123456789012345) ns, floor to µs
    pid: 4242, tid: 4243, uid: 1000, gid: 1001,
    comm: 'curl',
    cgroupId: Number(0x1122334455667788n), // above 2^53: the nearest double
    netnsCookie: 4096,
    family: 2, sockType: 1, protocol: 6, transport: 'tcp',
    dstIP: '10.1.2.3', dstPort: 443,
    socketCookie: Number(0xfedcba9876543210n), socketCookieValid: true,
    probe: 'cgroup', toctou: false,
    ppid: 1, procStartNs: 5_000_000_000,
  });
  t.is(c6.family, 10);
  t.is(c6.dstIP, '2001:db8::1');
  t.is(c6.dstPort, 53);
  t.is(c6.transport, 'udp');
  t.is(c6.sockType, 2);
  t.is(c6.probe, 'tracepoint');
  t.true(c6.toctou);
  t.false(c6.socketCookieValid);
  t.is(c6.comm, 'x'.repeat(16), 'a 16-byte comm without NUL');
  t.is(dns.kind, 'dns');
  t.is(dns.ktimeNs, 123456789999999);
  t.is(dns.timestampUs, 1_000_000_000_000_000 + 123456789999);
  t.is(dns.netnsCookie, 4096);
  t.is(dns.family, 2);
  t.is(dns.transport, 'udp');
  t.is(dns.srcIP, '127.0.0.153');
  t.is(dns.srcPort, 53);
  t.is(dns.dstIP, '127.0.0.1');
  t.is(dns.dstPort, 40000);
  t.is(dns.ifindex, 1);
  t.is(dns.payloadLength, 700);
  t.true(dns.truncated);
  t.deepEqual([...dns.payload], [0x12, 0x34, 0x81, 0x80, 0x00]);
  t.is(d.counts.connect, 2);
  t.is(d.counts.dns, 1);
  t.is(d.counts.outcome, 2);
  t.is(d.counts.exec, 1);
  t.deepEqual({ ...exec, args: [...exec.args] }, {
    kind: 'exec', ktimeNs: 123456780000000, pid: 4242, ppid: 1, procStartNs: 5000000000, uid: 1000, gid: 1001, comm: 'curl',
    filename: '/usr/bin/curl', args: [...Buffer.from('curl\0-s\0x\0')], argsSize: 10,
  });
  t.deepEqual(state, {
    kind: 'outcome', source: 'state', ktimeNs: 123456790012345, socketCookie: Number(0xfedcba9876543210n), socketCookieValid: true,
    pid: 0, tid: 0, errno: 111, established: false, family: 2, srcIP: '10.0.0.7', srcPort: 40001, dstIP: '10.1.2.3', dstPort: 443,
    communityId: communityId('10.0.0.7', 40001, '10.1.2.3', 443), // from the record's bytes, equal to the text's
  });
  t.deepEqual(syscall, {
    kind: 'outcome', source: 'syscall', ktimeNs: 123456790099999, socketCookie: 0, socketCookieValid: false,
    pid: 4242, tid: 4243, errno: 101, established: false, family: 0, srcIP: '', srcPort: 0, dstIP: '', dstPort: 0, communityId: null,
  });
  t.is(d.counts.byProbe.cgroup, 1);
  t.is(d.counts.byProbe.tracepoint, 1);
  t.deepEqual(Object.values(d.counts.malformed), [0, 0, 0, 0, 0, 0]);
});

layoutTest('the layout matches the C structs: sizes, 8-byte alignment of 64-bit fields', (t) => {
  const l = getLayout();
  t.is(l.header.size, 16);
  t.is(l.connect.size % 8, 0);
  t.is(l.outcome.size % 8, 0);
  t.is(l.exec.size % 8, 0);
  t.is(l.exec.maxArgs, EXEC_MAX_ARGS);
  t.is(l.exec.args, l.exec.filename + l.exec.filenameMax);
  for (const off of [l.header.ktimeNs, l.connect.cgroupId, l.connect.netnsCookie, l.connect.socketCookie, l.connect.procStartNs, l.dns.netnsCookie, l.outcome.socketCookie]) {
    t.is(off % 8, 0);
  }
  t.is(l.dns.payload, l.dns.size);
  t.is(l.frameHeaderBytes, 8);
});

/** The C sample with the 64-bit fields of its first connect and its DNS record set to `v` (header ktime: `ktime`). */
function withU64(fields: { ktime: bigint; cgroupId: bigint; netnsCookie: bigint; socketCookie: bigint; procStartNs: bigint; dnsNetns: bigint }): Buffer {
  const l = getLayout();
  const buf = sampleRecords();
  const { offsets } = frames();
  const c = offsets[0]! + 8;
  const d = offsets[2]! + 8;
  buf.writeBigUInt64LE(fields.ktime, c + l.header.ktimeNs);
  buf.writeBigUInt64LE(fields.cgroupId, c + l.connect.cgroupId);
  buf.writeBigUInt64LE(fields.netnsCookie, c + l.connect.netnsCookie);
  buf.writeBigUInt64LE(fields.socketCookie, c + l.connect.socketCookie);
  buf.writeBigUInt64LE(fields.procStartNs, c + l.connect.procStartNs);
  buf.writeBigUInt64LE(fields.ktime, d + l.header.ktimeNs);
  buf.writeBigUInt64LE(fields.dnsNetns, d + l.dns.netnsCookie);
  return buf;
}

/** floor((ns + offset) / 1000) as the exact µs number the decoder must give. */
function wallUs(ns: bigint, offset: bigint): number {
  const sum = ns + offset;
  let us = sum / 1000n;
  if (sum % 1000n < 0n) us -= 1n;
  return Number(us);
}

layoutTest('64-bit fields: high and low words each count (values above 2^32, distinct per field)', (t) => {
  // Every field gets its own high and low word, so a swapped or misplaced half shows.
  const f = {
    ktime: 0x000a_bcde_1234_5678n, // ~35 days of uptime
    cgroupId: 0x0000_0001_0000_0002n,
    netnsCookie: 0x0000_0203_0405_0607n,
    socketCookie: 0x001f_ffff_ffff_fffen, // 2^53 - 2
    procStartNs: 0x0009_8765_4321_0fedn,
    dnsNetns: 0x0000_7fff_8000_0001n,
  };
  const offset = 1_764_000_000_123_456_789n;
  const d = new RecordDecoder({ wallOffsetNs: offset });
  const [c4, , dns] = d.decode(withU64(f)) as [ConnectEvent, ConnectEvent, DnsReplyEvent];
  t.is(c4.ktimeNs, Number(f.ktime));
  t.is(c4.cgroupId, Number(f.cgroupId));
  t.is(c4.netnsCookie, Number(f.netnsCookie));
  t.is(c4.socketCookie, Number(f.socketCookie));
  t.is(c4.procStartNs, Number(f.procStartNs));
  t.is(c4.timestampUs, wallUs(f.ktime, offset));
  t.is(dns.ktimeNs, Number(f.ktime));
  t.is(dns.netnsCookie, Number(f.dnsNetns));
  t.is(dns.timestampUs, wallUs(f.ktime, offset));
  for (const v of [c4.ktimeNs, c4.cgroupId, c4.netnsCookie, c4.socketCookie, c4.procStartNs, dns.netnsCookie]) t.true(Number.isSafeInteger(v));
});

layoutTest('64-bit fields as numbers: exact below 2^53, the nearest double above; the wall clock exact to the µs', (t) => {
  const u64 = fc.bigInt({ min: 0n, max: 2n ** 64n - 1n });
  const small = fc.bigInt({ min: 0n, max: 2n ** 53n - 1n });
  const field = fc.oneof(small, u64, fc.bigInt({ min: 2n ** 32n - 2n, max: 2n ** 32n + 2n }));
  // ktime up to 2^62 ns (146 years of uptime: the wall clock stays below 2^53 µs, the year 2255), above 2^53 too;
  // offsets around today's and odd ones.
  const ktime = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 62n }), small);
  const offset = fc.oneof(fc.bigInt({ min: 1_700_000_000_000_000_000n, max: 1_900_000_000_000_000_000n }), fc.bigInt({ min: -(10n ** 12n), max: 10n ** 12n }));
  fc.assert(fc.property(ktime, field, field, field, field, field, offset, (kt, cg, nn, sc, ps, dn, off) => {
    const d = new RecordDecoder({ wallOffsetNs: off });
    const [c4, , dns] = d.decode(withU64({ ktime: kt, cgroupId: cg, netnsCookie: nn, socketCookie: sc, procStartNs: ps, dnsNetns: dn })) as [ConnectEvent, ConnectEvent, DnsReplyEvent];
    return c4.ktimeNs === Number(kt) && c4.cgroupId === Number(cg) && c4.netnsCookie === Number(nn) && c4.socketCookie === Number(sc)
      && c4.procStartNs === Number(ps) && dns.netnsCookie === Number(dn) && dns.ktimeNs === Number(kt)
      && c4.timestampUs === wallUs(kt, off) && dns.timestampUs === wallUs(kt, off);
  }), { numRuns: 2000 });
  t.pass();
});

layoutTest('the wall offset: a bigint or a number, refreshed with setWallOffset()', (t) => {
  const f = { ktime: 123_456_789_012_345n, cgroupId: 1n, netnsCookie: 1n, socketCookie: 1n, procStartNs: 1n, dnsNetns: 1n };
  const d = new RecordDecoder();
  t.is(d.wallOffsetNs, 0n);
  t.is((d.decode(withU64(f))[0] as ConnectEvent).timestampUs, 123_456_789_012);
  d.setWallOffset(1_700_000_000_000_000_999n);
  t.is(d.wallOffsetNs, 1_700_000_000_000_000_999n);
  t.is((d.decode(withU64(f))[0] as ConnectEvent).timestampUs, wallUs(f.ktime, 1_700_000_000_000_000_999n));
  d.setWallOffset(2_000_000);
  t.is((d.decode(withU64(f))[0] as ConnectEvent).timestampUs, 123_456_791_012);
  const n = new RecordDecoder({ wallOffsetNs: 1000 });
  t.is((n.decode(withU64(f))[0] as ConnectEvent).timestampUs, 123_456_789_013);
});

layoutTest('comm: UTF-8, at most commLen bytes, the same text for the same bytes (cached), never another comm\'s', (t) => {
  const l = getLayout();
  const d = new RecordDecoder();
  const { offsets } = frames();
  const commOf = (bytes: Buffer): string => {
    const buf = sampleRecords();
    const at = offsets[0]! + 8 + l.connect.comm;
    buf.fill(0, at, at + l.commLen);
    bytes.copy(buf, at, 0, Math.min(bytes.length, l.commLen));
    return (d.decode(buf)[0] as ConnectEvent).comm;
  };
  t.is(commOf(Buffer.from('nginx')), 'nginx');
  t.is(commOf(Buffer.from('nginx')), 'nginx');
  t.is(commOf(Buffer.from('nginy')), 'nginy');
  t.is(commOf(Buffer.from('ngin')), 'ngin');
  t.is(commOf(Buffer.from('')), '');
  t.is(commOf(Buffer.from('zürich-€')), 'zürich-€');
  t.is(commOf(Buffer.from('a'.repeat(15) + 'bcd')), 'a'.repeat(15) + 'b', 'commLen bytes without a NUL');
  // Two comms of one length with the same cache key: each still decodes to itself.
  t.is(commOf(Buffer.from('p1250c')), 'p1250c');
  t.is(commOf(Buffer.from('p49cc0')), 'p49cc0');
  t.is(commOf(Buffer.from('p1250c')), 'p1250c');
  // Many distinct comms (more than the cache holds, so it starts over): each decodes to itself.
  fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 16 }), (bytes) => {
    const raw = Buffer.from(bytes);
    const nul = raw.indexOf(0);
    const want = raw.subarray(0, nul < 0 ? raw.length : nul).toString('utf8');
    return commOf(raw) === want && commOf(raw) === want;
  }), { numRuns: 6000 });
  t.pass();
});

/** Re-frames one record of the C sample with edits, for the malformed cases. */
function frames(): { buf: Buffer; offsets: number[] } {
  const buf = sampleRecords();
  const offsets: number[] = [];
  for (let off = 0; off < buf.length;) {
    offsets.push(off);
    off += 8 + ((buf.readUInt32LE(off) + 7) & ~7);
  }
  return { buf, offsets };
}

/** A framed 24-byte record of `kind`: a header and 8 bytes, shorter than any record of a known kind. */
function headerOnly(kind: number): Buffer {
  const l = getLayout();
  const rec = Buffer.alloc(8 + 16 + 8);
  rec.writeUInt32LE(24, 0);
  rec.writeUInt16LE(kind, 8 + l.header.kind);
  rec.writeUInt16LE(24, 8 + l.header.recordSize);
  return rec;
}

layoutTest('malformed records are counted by reason and skipped', (t) => {
  const l = getLayout();
  const cases: [string, (b: Buffer, o: number[]) => Buffer, keyof RecordDecoder['counts']['malformed'], number][] = [
    ['unknown kind', (b, o) => { b.writeUInt16LE(99, o[0]! + 8 + l.header.kind); return b; }, 'unknownKind', 5],
    ['hdr.size disagrees with the frame', (b, o) => { b.writeUInt16LE(50, o[0]! + 8 + l.header.recordSize); return b; }, 'badSize', 5],
    ['unknown probe', (b, o) => { b[o[1]! + 8 + l.header.probe] = 77; return b; }, 'unknownProbe', 5],
    ['DNS captured length beyond the cap', (b, o) => { b.writeUInt32LE(100000, o[2]! + 8 + l.dns.capturedLength); return b; }, 'badPayloadLength', 5],
    ['DNS captured length disagrees with size', (b, o) => { b.writeUInt32LE(4, o[2]! + 8 + l.dns.capturedLength); return b; }, 'badSize', 5],
    ['record shorter than a header', (b, o) => { const x = Buffer.alloc(8 + 8); x.writeUInt32LE(8, 0); return Buffer.concat([x, b.subarray(o[1]!)]); }, 'shortRecord', 5],
    ['connect of the wrong size', (b, o) => Buffer.concat([headerOnly(l.kinds.connect), b.subarray(o[1]!)]), 'shortRecord', 5],
    ['outcome of an unknown probe', (b, o) => { b[o[3]! + 8 + l.header.probe] = 77; return b; }, 'unknownProbe', 5],
    ['outcome of the wrong size', (b, o) => Buffer.concat([headerOnly(l.kinds.outcome), b.subarray(o[1]!)]), 'shortRecord', 5],
    ['exec argv length beyond the most a record carries', (b, o) => { b.writeUInt32LE(100000, o[5]! + 8 + l.exec.argsLength); return b; }, 'badPayloadLength', 5],
    ['exec argv length disagrees with size', (b, o) => { b.writeUInt32LE(3, o[5]! + 8 + l.exec.argsLength); return b; }, 'badSize', 5],
    ['batch cut in the middle of a frame', (b, o) => b.subarray(0, o[2]! + 20), 'shortFrame', 2],
    ['batch cut in a frame header', (b, o) => b.subarray(0, o[2]! + 4), 'shortFrame', 2],
  ];
  for (const [name, edit, reason, good] of cases) {
    const { buf, offsets } = frames();
    const d = new RecordDecoder();
    const events = d.decode(edit(buf, offsets));
    t.is(events.length, good, name);
    t.is(d.counts.malformed[reason], 1, name);
  }
});

layoutTest('an IPv6 state outcome: its community id from the record\'s bytes equals the one of its text; a v4-mapped pair hashes as IPv4', (t) => {
  const l = getLayout();
  for (const [src, dst, srcText, dstText] of [
    ['2001:db8::7', '2001:db8:1::3', '2001:db8::7', '2001:db8:1::3'],
    ['::ffff:10.0.0.7', '::ffff:10.1.2.3', '10.0.0.7', '10.1.2.3'],
  ] as const) {
    const { buf, offsets } = frames();
    const r = offsets[3]! + 8;
    buf.writeUInt16LE(10, r + l.outcome.family);
    writeIpBytes(src, buf, r + l.outcome.srcAddr);
    writeIpBytes(dst, buf, r + l.outcome.dstAddr);
    const ev = new RecordDecoder().decode(buf)[3] as ConnectOutcomeEvent;
    t.is(ev.srcIP, srcText);
    t.is(ev.dstIP, dstText);
    t.is(ev.communityId, communityId(srcText, 40001, dstText, 443));
  }
});

layoutTest('arbitrary bytes never throw', (t) => {
  const d = new RecordDecoder();
  const sample = sampleRecords();
  fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(sample.length), fc.uint8Array({ maxLength: 8 }), (junk, at, patch) => {
    d.decode(Buffer.from(junk));
    const mutated = Buffer.from(sample);
    Buffer.from(patch).copy(mutated, Math.min(at, mutated.length));
    d.decode(mutated);
  }), { numRuns: 2000 });
  t.pass();
});

test('formatIp: canonical IPv4, RFC 5952 IPv6, IPv4-mapped shown as IPv4', (t) => {
  const v6 = (hex: string): Buffer => Buffer.from(hex.replace(/:/g, ''), 'hex');
  t.is(formatIp(Buffer.from([192, 168, 0, 1]), 0, 2), '192.168.0.1');
  t.is(formatIp(v6('0000:0000:0000:0000:0000:0000:0000:0001'), 0, 10), '::1');
  t.is(formatIp(v6('0000:0000:0000:0000:0000:0000:0000:0000'), 0, 10), '::');
  t.is(formatIp(v6('0000:0000:0000:0000:0000:ffff:7f00:0001'), 0, 10), '127.0.0.1');
  t.is(formatIp(v6('2001:0db8:0000:0000:0001:0000:0000:0001'), 0, 10), '2001:db8::1:0:0:1');
  t.is(formatIp(v6('2001:0db8:0000:0001:0001:0001:0001:0001'), 0, 10), '2001:db8:0:1:1:1:1:1', 'a single zero group is not compressed');
  t.is(formatIp(v6('fe80:0000:0000:0000:abcd:0000:0000:0000'), 0, 10), 'fe80::abcd:0:0:0', 'first of two equal runs');
  t.is(formatIp(v6('2001:0db8:0000:0000:0000:0000:0000:0000'), 0, 10), '2001:db8::');
  t.is(formatIp(Buffer.alloc(16), 0, 1), '');
});

test('formatIp: every 16-bit group value is written as its lower-case hex without leading zeros', (t) => {
  const b = Buffer.alloc(16, 0x11);
  for (let g = 0; g < 0x10000; g++) {
    b.writeUInt16BE(g, 0);
    b.writeUInt16BE(g, 14);
    const want = `${g.toString(16)}:1111:1111:1111:1111:1111:1111:${g.toString(16)}`;
    if (formatIp(b, 0, 10) !== want) t.fail(`group ${g}: ${formatIp(b, 0, 10)}, want ${want}`);
  }
  t.pass();
});
