// The record decoder against the C layout: records written by C (the addon's
// sampleRecords(), values below mirror bpf/native/loader.c) decode to the
// expected events; malformed input is counted by reason, never thrown.
import test from 'ava';
import fc from 'fast-check';
import { getLayout, isBuilt, sampleRecords } from 'bpf-native-loader';
import { RecordDecoder, formatIp } from '../../producer/source/decode.ts';
import type { ConnectEvent, DnsReplyEvent } from '../../producer/source/types.ts';

const skip = !isBuilt() && process.env.CONNTRAIL_SKIP_BPF_BUILD === '1';
const layoutTest = skip ? test.skip : test;

layoutTest('decodes records written by C with the header\'s layout', (t) => {
  const d = new RecordDecoder({ wallOffsetNs: 1_000_000_000_000_000_000n });
  const events = d.decode(sampleRecords());
  t.is(events.length, 3);
  const [c4, c6, dns] = events as [ConnectEvent, ConnectEvent, DnsReplyEvent];
  t.deepEqual(c4, {
    kind: 'connect',
    ktimeNs: 123456789012345n,
    timestampNs: 1_000_000_000_000_000_000n + 123456789012345n,
    pid: 4242, tid: 4243, uid: 1000, gid: 1001,
    comm: 'curl',
    cgroupId: 0x1122334455667788n,
    netnsCookie: 4096n,
    family: 2, sockType: 1, protocol: 6, transport: 'tcp',
    dstIP: '10.1.2.3', dstPort: 443,
    socketCookie: 0xfedcba9876543210n, socketCookieValid: true,
    probe: 'cgroup', toctou: false,
    ppid: 1, procStartNs: 5_000_000_000n,
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
  t.is(dns.ktimeNs, 123456789999999n);
  t.is(dns.netnsCookie, 4096n);
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
  t.is(d.counts.byProbe.cgroup, 1);
  t.is(d.counts.byProbe.tracepoint, 1);
  t.deepEqual(Object.values(d.counts.malformed), [0, 0, 0, 0, 0, 0]);
});

layoutTest('the layout matches the C structs: sizes, 8-byte alignment of 64-bit fields', (t) => {
  const l = getLayout();
  t.is(l.header.size, 16);
  t.is(l.connect.size % 8, 0);
  for (const off of [l.header.ktimeNs, l.connect.cgroupId, l.connect.netnsCookie, l.connect.socketCookie, l.connect.procStartNs, l.dns.netnsCookie]) {
    t.is(off % 8, 0);
  }
  t.is(l.dns.payload, l.dns.size);
  t.is(l.frameHeaderBytes, 8);
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

layoutTest('malformed records are counted by reason and skipped', (t) => {
  const l = getLayout();
  const cases: [string, (b: Buffer, o: number[]) => Buffer, keyof RecordDecoder['counts']['malformed'], number][] = [
    ['unknown kind', (b, o) => { b.writeUInt16LE(99, o[0]! + 8 + l.header.kind); return b; }, 'unknownKind', 2],
    ['hdr.size disagrees with the frame', (b, o) => { b.writeUInt16LE(50, o[0]! + 8 + l.header.recordSize); return b; }, 'badSize', 2],
    ['unknown probe', (b, o) => { b[o[1]! + 8 + l.header.probe] = 77; return b; }, 'unknownProbe', 2],
    ['DNS captured length beyond the cap', (b, o) => { b.writeUInt32LE(100000, o[2]! + 8 + l.dns.capturedLength); return b; }, 'badPayloadLength', 2],
    ['DNS captured length disagrees with size', (b, o) => { b.writeUInt32LE(4, o[2]! + 8 + l.dns.capturedLength); return b; }, 'badSize', 2],
    ['record shorter than a header', (b, o) => { const x = Buffer.alloc(8 + 8); x.writeUInt32LE(8, 0); return Buffer.concat([x, b.subarray(o[1]!)]); }, 'shortRecord', 2],
    ['connect of the wrong size', (b, o) => {
      const rec = Buffer.alloc(8 + 16 + 8);
      rec.writeUInt32LE(24, 0);
      rec.writeUInt16LE(l.kinds.connect, 8 + l.header.kind);
      rec.writeUInt16LE(24, 8 + l.header.recordSize);
      return Buffer.concat([rec, b.subarray(o[1]!)]);
    }, 'shortRecord', 2],
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
