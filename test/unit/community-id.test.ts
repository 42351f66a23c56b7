// Community ID v1 against the spec's own published test vectors: the TCP and UDP
// rows of baseline/baseline_deflt.json (seed 0, base64) in
// github.com/corelight/community-id-spec (commit c4ec2bc40d65ddbcbdd642582bf5609797a80772).
// Each flow is given in both directions: both must hash alike.
import test from 'ava';
import fc from 'fast-check';
import { communityId, communityIdOfBytes } from '../../producer/model/community-id.ts';
import { AF_INET, AF_INET6, canonicalIp, formatIp, writeIpBytes } from '../../producer/model/ip.ts';

const VECTORS: Array<[proto: number, saddr: string, daddr: string, sport: number, dport: number, id: string]> = [
  [6, '128.232.110.120', '66.35.250.204', 34855, 80, '1:LQU9qZlK+B5F3KDmev6m5PMibrg='],
  [6, '66.35.250.204', '128.232.110.120', 80, 34855, '1:LQU9qZlK+B5F3KDmev6m5PMibrg='],
  [6, '2001:470:e5bf:dead:4957:2174:e82c:4887', '2607:f8b0:400c:c03::1a', 63943, 25, '1:/qFaeAR+gFe1KYjMzVDsMv+wgU4='],
  [6, '2607:f8b0:400c:c03::1a', '2001:470:e5bf:dead:4957:2174:e82c:4887', 25, 63943, '1:/qFaeAR+gFe1KYjMzVDsMv+wgU4='],
  [17, '192.168.1.52', '8.8.8.8', 54585, 53, '1:d/FP5EW3wiY1vCndhwleRRKHowQ='],
  [17, '8.8.8.8', '192.168.1.52', 53, 54585, '1:d/FP5EW3wiY1vCndhwleRRKHowQ='],
  [132, '192.168.170.8', '192.168.170.56', 7, 7, '1:MP2EtRCAUIZvTw6MxJHLV7N7JDs='],
  [132, '192.168.170.56', '192.168.170.8', 7, 7, '1:MP2EtRCAUIZvTw6MxJHLV7N7JDs='],
];

for (const [proto, saddr, daddr, sport, dport, id] of VECTORS) {
  test(`spec vector: proto ${proto} ${saddr}:${sport} -> ${daddr}:${dport}`, (t) => {
    t.is(communityId(saddr, sport, daddr, dport, proto), id);
  });
}

test('TCP is the default protocol, seed 0 the default seed', (t) => {
  t.is(communityId('128.232.110.120', 34855, '66.35.250.204', 80), '1:LQU9qZlK+B5F3KDmev6m5PMibrg=');
});

test('same addresses: the ports decide the order', (t) => {
  t.is(communityId('127.0.0.1', 40000, '127.0.0.1', 80), communityId('127.0.0.1', 80, '127.0.0.1', 40000));
  t.not(communityId('127.0.0.1', 40000, '127.0.0.1', 80), communityId('127.0.0.1', 40001, '127.0.0.1', 80));
});

test('not an address, or mixed families: null', (t) => {
  t.is(communityId('', 1, '10.0.0.1', 80), null);
  t.is(communityId('10.0.0.300', 1, '10.0.0.1', 80), null);
  t.is(communityId('10.0.0.2', 1, '2001:db8::1', 80), null);
});

test('writeIpBytes: IPv4 text exactly as parseIPv4 takes it, IPv6 in 16 bytes', (t) => {
  const b = Buffer.alloc(16);
  t.is(writeIpBytes('192.0.2.255', b, 0), 4);
  t.deepEqual([...b.subarray(0, 4)], [192, 0, 2, 255]);
  for (const bad of ['1.2.3', '1.2.3.4.5', '1.2.3.256', '01.2.3.4', '1..2.3', '1.2.3.4.', 'a.b.c.d', '']) t.is(writeIpBytes(bad, b, 0), 0, bad);
  t.is(writeIpBytes('0.0.0.0', b, 0), 4);
  t.is(writeIpBytes('2001:db8::1', b, 0), 16);
  t.is(b.toString('hex'), '20010db8000000000000000000000001');
  t.is(writeIpBytes('::ffff:10.0.0.1', b, 0), 16);
  t.is(b.toString('hex'), '00000000000000000000ffff0a000001');
});

/** Two addresses as a kernel record holds them: src at 3, dst at 40 (odd offsets on purpose). */
function recordBytes(saddr: string, daddr: string): Buffer {
  const b = Buffer.alloc(64, 0xee);
  t0(writeIpBytes(saddr, b, 3));
  t0(writeIpBytes(daddr, b, 40));
  return b;
}
function t0(n: number): void {
  if (n === 0) throw new Error('not an address');
}

for (const [proto, saddr, daddr, sport, dport, id] of VECTORS) {
  test(`spec vector from bytes: proto ${proto} ${saddr}:${sport} -> ${daddr}:${dport}`, (t) => {
    t.is(communityIdOfBytes(recordBytes(saddr, daddr), saddr.includes(':') ? AF_INET6 : AF_INET, 3, sport, 40, dport, proto), id);
  });
}

test('from bytes: a pair of IPv4-mapped IPv6 addresses hashes as the IPv4 text the record shows', (t) => {
  const b = recordBytes('::ffff:10.0.0.7', '::ffff:10.1.2.3');
  t.is(communityIdOfBytes(b, AF_INET6, 3, 40001, 40, 443), communityId('10.0.0.7', 40001, '10.1.2.3', 443));
});

test('from bytes: one address mapped and one not, or another family: null', (t) => {
  t.is(communityIdOfBytes(recordBytes('::ffff:10.0.0.7', '2001:db8::1'), AF_INET6, 3, 40001, 40, 443), null);
  t.is(communityIdOfBytes(recordBytes('10.0.0.7', '10.1.2.3'), 0, 3, 40001, 40, 443), null);
});

test('writeIpBytes: IPv6 text is taken exactly when canonicalIp takes it, and gives the same address', (t) => {
  const b = Buffer.alloc(16);
  const check = (text: string): void => {
    const canon = canonicalIp(text);
    const n = writeIpBytes(text, b, 0);
    if (n !== (canon === null ? 0 : 16)) t.fail(`${JSON.stringify(text)}: wrote ${n} bytes, canonical ${canon}`);
    else if (canon !== null && formatIp(b, 0, AF_INET6) !== canon) t.fail(`${JSON.stringify(text)}: ${formatIp(b, 0, AF_INET6)}, canonical ${canon}`);
  };
  for (const s of ['::', '::1', '1::', '1::2', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', ':1:2:3:4:5:6:7', '1:2:3:4:5:6:7:',
    ':::', '1:::2', '1::2::3', '::1::', '12345::', 'ABCD:ef01::', 'g::', '1: :2', '', ':', '1:2', 'fe80::1%eth0', '::ffff:10.0.0.1', '::ffff:a00:1', '1:2:3:4:5:6:1.2.3.4']) check(s);
  fc.assert(fc.property(fc.oneof(fc.ipV6(), fc.stringMatching(/^[0-9a-fA-Fg:]{0,24}$/)), (s) => { check(s); }), { numRuns: 3000, seed: 6 });
  t.pass();
});
