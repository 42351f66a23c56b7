// The cache keys addresses from AAAA answers (text, via canonicalIp) and the
// capture keys connect addresses (bytes, via formatIp): both must
// spell every address alike, or results would silently miss.
import test from 'ava';
import fc from 'fast-check';
import dnsPacket from 'dns-packet';
import { canonicalIp, formatIp, ipv6Text, unmapIPv4 } from '../../producer/model/ip.ts';

const AF_INET6 = 10;
// dns-packet's record codecs are not in @types/dns-packet.
const aaaa = (dnsPacket as unknown as { aaaa: { decode(buf: Buffer, offset?: number): string } }).aaaa;

test('A answers are canonical as dns-packet spells them (the parser keys them by that text)', (t) => {
  const a = (dnsPacket as unknown as { a: { decode(buf: Buffer, offset?: number): string } }).a;
  fc.assert(fc.property(fc.uint8Array({ minLength: 4, maxLength: 4 }), (bytes) => {
    const text = a.decode(Buffer.concat([Buffer.from([0, 4]), Buffer.from(bytes)]));
    return canonicalIp(text) === text && text === formatIp(Buffer.from(bytes), 0, 2);
  }), { numRuns: 5000 });
  t.pass();
});

test('AAAA answers and connect records spell every IPv6 address alike', (t) => {
  const group = fc.oneof(fc.constant(0), fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff }));
  const groups = fc.oneof(
    fc.array(group, { minLength: 8, maxLength: 8 }),
    fc.tuple(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff })).map(([a, b]) => [0, 0, 0, 0, 0, 0xffff, a, b]),
  );
  fc.assert(
    fc.property(groups, (g) => {
      const bytes = Buffer.alloc(16);
      g.forEach((x, i) => bytes.writeUInt16BE(x, i * 2));
      const fromKernel = formatIp(bytes, 0, AF_INET6); // what a connect record carries
      const rdata = Buffer.concat([Buffer.from([0, 16]), bytes]);
      const fromDns = canonicalIp(aaaa.decode(rdata)); // what the cache keys an AAAA answer by
      const full = canonicalIp(g.map((x) => x.toString(16).padStart(4, '0')).join(':'));
      return fromDns === fromKernel && full === fromKernel && unmapIPv4(fromKernel) === fromKernel && canonicalIp(fromKernel) === fromKernel
        && ipv6Text(rdata, 2) === fromKernel; // what the parser keys an AAAA answer by (from its bytes)
    }),
    { numRuns: 20_000 },
  );
  t.pass();
});
