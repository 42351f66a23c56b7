// A flood of unique names (as a DNS tunnel or a random-subdomain scan makes)
// keeps the cache, and the heap, within bounds.
import test from 'ava';
import v8 from 'node:v8';
import vm from 'node:vm';
import { DnsCache } from '../../producer/transform/dns/cache.ts';
import { Enricher } from '../../producer/transform/enrich.ts';
import type { NetTCPConnect } from '../../producer/model/net-tcp-connect.ts';
import { connectEvent, dnsEvent, reply, S } from '../transform/packets.ts';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;
const heapMiB = (): number => {
  gc();
  gc();
  return process.memoryUsage().heapUsed / 2 ** 20;
};

function ip(i: number): string {
  return `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

test('1,000,000 unique names with default bounds: sizes and heap stay flat', (t) => {
  const c = new DnsCache(); // defaults: 65536 names, 65536 addresses, 262144 links
  const before = heapMiB();
  const insert = (from: number, to: number): void => {
    for (let i = from; i < to; i++) {
      const q = `r${i}.tunnel.example`;
      c.insert(i & 7, {
        question: q,
        cnames: [{ name: q, target: `e${i}.cdn.example`, ttl: 300 }],
        addresses: [{ name: `e${i}.cdn.example`, ip: ip(i), ttl: 300 }, { name: `e${i}.cdn.example`, ip: ip(i + 1), ttl: 300 }],
        offChain: 0,
        salvaged: false,
      }, i * 1000);
      if ((i & 1023) === 0) c.lookup(i & 7, ip(i), i * 1000 + 1);
    }
  };
  const started = performance.now();
  insert(0, 200_000);
  const at200k = heapMiB();
  insert(200_000, 1_000_000);
  const at1m = heapMiB();
  const ms = performance.now() - started;
  c.checkInvariants();
  const s = c.stats();
  t.log(`heap: ${before.toFixed(1)} MiB empty, ${at200k.toFixed(1)} MiB after 200k names, ${at1m.toFixed(1)} MiB after 1M; ${s.names} names, ${s.addresses} addresses, ${s.addressLinks} links; ${(1_000_000 / (ms / 1000) / 1000).toFixed(0)}k replies/s`);
  t.true(s.names <= 65536 && s.addresses <= 65536 && s.addressLinks <= 4 * 65536);
  t.true(s.evictedNames > 900_000);
  // Full at 200k already; 800k more names must not grow the heap.
  t.true(at1m - at200k < 8, `heap grew ${(at1m - at200k).toFixed(1)} MiB`);
  // Measured 27.5 MiB (43.5 before names and addresses kept their first link inline).
  t.true(at1m - before < 32, `cache holds ${(at1m - before).toFixed(1)} MiB`);
});

test('bytes per name and per address at the default bounds', (t) => {
  const c = new DnsCache();
  const names = 65536;
  const pairs = names / 2; // a question and its CNAME target
  const question = (i: number): string => `q${i}.bytes.example`;
  const target = (i: number): string => `t${i}.cdn.example`;
  const before = heapMiB();
  // 65,536 names, each with its CNAME link (the question's)...
  for (let i = 0; i < pairs; i++) {
    c.insert(0, { question: question(i), cnames: [{ name: question(i), target: target(i), ttl: 300 }], addresses: [], offChain: 0, salvaged: false }, i);
  }
  const withNames = heapMiB();
  // ...then 65,536 addresses, two A records per target.
  for (let i = 0; i < pairs; i++) {
    c.insert(0, {
      question: question(i),
      cnames: [{ name: question(i), target: target(i), ttl: 300 }],
      addresses: [{ name: target(i), ip: ip(2 * i), ttl: 300 }, { name: target(i), ip: ip(2 * i + 1), ttl: 300 }],
      offChain: 0,
      salvaged: false,
    }, pairs + i);
  }
  const full = heapMiB();
  c.checkInvariants();
  const s = c.stats();
  t.is(s.names, names);
  t.is(s.addresses, 65536);
  t.is(s.evictedNames + s.evictedAddresses, 0);
  const perName = ((withNames - before) * 2 ** 20) / names;
  const perAddress = ((full - withNames) * 2 ** 20) / s.addresses;
  t.log(`${perName.toFixed(0)} bytes per name (with its CNAME link), ${perAddress.toFixed(0)} bytes per address (with its A link); full cache ${(full - before).toFixed(1)} MiB`);
  // Measured 24.6 MiB (43.5 before names and addresses kept their first link inline).
  t.true(full - before < 30, `cache holds ${(full - before).toFixed(1)} MiB`);
});

test('the same flood as DNS packets through the enricher, small bounds', (t) => {
  const e = new Enricher({ host: { name: 'h', machineId: '', bootId: '' }, dnsCache: { maxNames: 1000, maxAddresses: 500 } });
  const out: NetTCPConnect[] = [];
  for (let i = 0; i < 50_000; i++) {
    const q = `${i.toString(36)}.flood.example`;
    e.process([
      dnsEvent(reply(q, [{ type: 'CNAME', name: q, data: `c${q}` }, { type: 'A', name: `c${q}`, data: ip(i) }]), i * S),
      connectEvent(ip(i), i * S + 1),
    ], out);
    t.true(e.cache.nameCount <= 1000 && e.cache.addressCount <= 500);
  }
  e.cache.checkInvariants();
  t.is(out.length, 50_000);
  t.deepEqual(out.at(-1)!.results, [`${(49_999).toString(36)}.flood.example`, `c${(49_999).toString(36)}.flood.example`]);
});
