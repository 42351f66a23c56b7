// Property/fuzz test: random and mutated DNS payloads through the parser, the
// cache and the enricher. Nothing may throw, every payload is accounted for,
// and the cache stays within its bounds with its invariants intact.
import test from 'ava';
import fc from 'fast-check';
import dnsPacket from 'dns-packet';
import { Enricher } from '../../producer/transform/enrich.ts';
import type { EnrichInput } from '../../producer/transform/enrich.ts';
import { DNS_PARSE_ERRORS } from '../../producer/transform/dns/parse.ts';
import type { NetTCPConnect } from '../../producer/model/net-tcp-connect.ts';
import { S, connectEvent, dnsEvent, tcpFrame } from '../transform/packets.ts';

const BOUNDS = { maxNames: 64, maxAddresses: 48, maxLinks: 96, linksPerNode: 4 };
const host = { name: 'fuzz', machineId: '', bootId: '' };

// A few names so chains and collisions happen, plus unique ones to push the LRU.
const nameArb = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom('a.test', 'b.test', 'c.test', 'd.test', 'cdn.example', 'x.y.z.test', 'A.TEST') },
  { weight: 2, arbitrary: fc.stringMatching(/^[a-z0-9-]{1,12}\.(test|example)$/) },
);
const ipv4Arb = fc.constantFrom('10.0.0.1', '10.0.0.2', '127.0.0.77', '192.168.1.1').chain((c) => fc.oneof(fc.constant(c), fc.ipV4()));
const ipv6Arb = fc.oneof(fc.constantFrom('::1', 'fd00::1', '::ffff:10.0.0.1'), fc.ipV6());
const recordArb: fc.Arbitrary<dnsPacket.Answer> = fc.oneof(
  fc.record({ type: fc.constant('A' as const), name: nameArb, ttl: fc.nat(), data: ipv4Arb }),
  fc.record({ type: fc.constant('AAAA' as const), name: nameArb, ttl: fc.nat(), data: ipv6Arb }),
  fc.record({ type: fc.constant('CNAME' as const), name: nameArb, ttl: fc.nat(), data: nameArb }),
  fc.record({ type: fc.constant('TXT' as const), name: nameArb, ttl: fc.nat(), data: fc.string({ maxLength: 40 }) }),
  fc.record({ type: fc.constant('MX' as const), name: nameArb, ttl: fc.nat(), data: fc.record({ preference: fc.nat(100), exchange: nameArb }) }),
) as fc.Arbitrary<dnsPacket.Answer>;
// A chain from the question (q -> c1 -> ... -> A/AAAA), then random records, shuffled.
const chainArb = (q: string): fc.Arbitrary<dnsPacket.Answer[]> =>
  fc.tuple(fc.array(nameArb, { maxLength: 3 }), fc.array(fc.oneof(ipv4Arb, ipv6Arb), { minLength: 0, maxLength: 3 }), fc.nat(), fc.nat(600))
    .map(([cnames, ips, ttl, ttl2]) => {
      const out: dnsPacket.Answer[] = [];
      let cur = q;
      for (const c of cnames) {
        out.push({ type: 'CNAME', name: cur, ttl: ttl2, data: c });
        cur = c;
      }
      for (const ip of ips) out.push({ type: ip.includes(':') ? 'AAAA' : 'A', name: cur, ttl, data: ip } as dnsPacket.Answer);
      return out;
    });
const packetArb = nameArb.chain((q) => fc.record({
  id: fc.nat(0xffff),
  flags: fc.oneof({ weight: 8, arbitrary: fc.constant(0x0180) }, { weight: 1, arbitrary: fc.nat(0x7fff) }),
  type: fc.oneof({ weight: 15, arbitrary: fc.constant('response' as const) }, { weight: 1, arbitrary: fc.constant('query' as const) }),
  questions: fc.oneof(
    { weight: 10, arbitrary: fc.constantFrom('A' as const, 'AAAA' as const, 'HTTPS' as const).map((type) => [{ type, name: q }] as dnsPacket.Question[]) },
    { weight: 1, arbitrary: fc.array(fc.record({ type: fc.constant('A' as const), name: nameArb }), { maxLength: 2 }) as fc.Arbitrary<dnsPacket.Question[]> },
  ),
  answers: fc.tuple(chainArb(q), fc.array(recordArb, { maxLength: 4 })).chain(([c, r]) => fc.shuffledSubarray([...c, ...r], { minLength: c.length + r.length })),
}));
const validPayloadArb = packetArb.map((p) => dnsPacket.encode(p));

type Mutation = { at: number; kind: 'set' | 'flip' | 'cut' | 'dup'; v: number };
const mutationArb: fc.Arbitrary<Mutation> = fc.record({ at: fc.nat(), kind: fc.constantFrom('set', 'flip', 'cut', 'dup'), v: fc.nat(255) }) as fc.Arbitrary<Mutation>;
function mutate(buf: Buffer, ms: Mutation[]): Buffer {
  let b = Buffer.from(buf);
  for (const m of ms) {
    if (b.length === 0) break;
    const at = m.at % b.length;
    if (m.kind === 'set') b[at] = m.v;
    else if (m.kind === 'flip') b[at] = b[at]! ^ (1 << (m.v & 7));
    else if (m.kind === 'cut') b = b.subarray(0, at);
    else b = Buffer.concat([b.subarray(0, at), b.subarray(at, Math.min(b.length, at + (m.v & 31))), b.subarray(at)]);
  }
  return b;
}

const transportArb = fc.constantFrom('udp' as const, 'udp' as const, 'tcp' as const);
const payloadArb = fc.oneof(
  // random bytes
  fc.record({ bytes: fc.uint8Array({ maxLength: 600 }).map((u) => Buffer.from(u)), transport: transportArb, cut: fc.boolean() }),
  // valid replies
  fc.record({ bytes: validPayloadArb, transport: transportArb, cut: fc.constant(false) }),
  // mutated valid replies
  fc.record({ bytes: fc.tuple(validPayloadArb, fc.array(mutationArb, { minLength: 1, maxLength: 6 })).map(([b, ms]) => mutate(b, ms)), transport: transportArb, cut: fc.boolean() }),
);

const RUNS = Number(process.env.CONNTRAIL_FUZZ_RUNS ?? 100_000);

test(`fuzz: ${RUNS} random/valid/mutated DNS payloads through parser, cache and enricher`, (t) => {
  const e = new Enricher({ host, dnsCache: BOUNDS, newEventId: () => 'x' });
  const out: NetTCPConnect[] = [];
  let k = 0;
  let payloads = 0;
  let connects = 0;
  const started = performance.now();
  fc.assert(
    fc.property(payloadArb, ipv4Arb, fc.nat(3), (p, ip, ns) => {
      k += S / 10;
      let bytes = p.bytes;
      if (p.transport === 'tcp' && p.bytes.length > 0 && k % 3 !== 0) bytes = tcpFrame(p.bytes); // mostly well framed
      const cutAt = p.cut ? Math.floor(bytes.length / 2) : bytes.length;
      const events: EnrichInput[] = [
        dnsEvent(bytes.subarray(0, cutAt), k, { transport: p.transport, netnsCookie: ns, truncated: p.cut, payloadLength: bytes.length }),
        connectEvent(ip, k + 1, { netnsCookie: ns }),
      ];
      out.length = 0;
      e.process(events, out); // must not throw
      payloads++;
      connects++;
      if (out.length !== 1) return false;
      if (!Array.isArray(out[0]!.results) || out[0]!.results.some((n) => typeof n !== 'string')) return false;
      if (e.cache.nameCount > BOUNDS.maxNames || e.cache.addressCount > BOUNDS.maxAddresses) return false;
      if (payloads % 1000 === 0) e.cache.checkInvariants();
      return true;
    }),
    { numRuns: RUNS, seed: Number(process.env.CONNTRAIL_FUZZ_SEED ?? 20261127) },
  );
  e.cache.checkInvariants();
  const s = e.stats();
  const ms = performance.now() - started;
  t.log(`${payloads} payloads in ${ms.toFixed(0)} ms; parsed ${s.dnsRepliesParsed}, salvaged ${s.dnsRepliesSalvaged}, errors ${JSON.stringify(s.dnsErrors)}, cache ${JSON.stringify(s.cache)}`);
  t.true(payloads >= RUNS);
  t.is(s.dnsInternalErrors, 0);
  t.is(s.connectsPublished, connects);
  // Every payload is accounted for: parsed, or rejected with a reason (a TCP segment may hold several messages).
  const rejected = DNS_PARSE_ERRORS.reduce((n, r) => n + s.dnsErrors[r], 0);
  t.true(s.dnsRepliesParsed + rejected >= payloads);
  // The mix exercises the interesting paths.
  t.true(s.dnsRepliesParsed > RUNS / 10);
  t.true(s.dnsErrors.malformed > 0 && s.dnsErrors.truncated > 0 && s.dnsErrors.rcode_nonzero > 0);
  t.true(s.cache.hits > 0 && s.cache.evictedNames > 0);
  t.true(s.cache.names <= BOUNDS.maxNames && s.cache.addresses <= BOUNDS.maxAddresses && s.cache.addressLinks <= BOUNDS.maxLinks);
});
