import test from 'ava';
import fc from 'fast-check';
import { DnsCache } from '../../producer/transform/dns/cache.ts';
import type { ParsedReply } from '../../producer/transform/dns/parse.ts';

const S = 1e9;
const T0 = 1000 * S; // an arbitrary boot-clock time

/** A parsed reply: question, then [owner, target, ttl] CNAMEs and [owner, ip, ttl] addresses. */
function rep(question: string, cnames: [string, string, number][], addrs: [string, string, number][]): ParsedReply {
  return {
    question,
    cnames: cnames.map(([name, target, ttl]) => ({ name, target, ttl })),
    addresses: addrs.map(([name, ip, ttl]) => ({ name, ip, ttl })),
    offChain: 0,
    salvaged: false,
  };
}

const chainReply = rep('api.example.test', [['api.example.test', 'edge.example.test', 5]], [['edge.example.test', '127.0.0.77', 300]]);

test('question first, then the CNAME chain', (t) => {
  const c = new DnsCache();
  c.insert(1, chainReply, T0);
  t.deepEqual(c.lookup(1, '127.0.0.77', T0 + 1), ['api.example.test', 'edge.example.test']);
  t.deepEqual(c.lookup(1, '127.0.0.78', T0 + 1), []);
  const s = c.stats();
  t.is(s.hits, 1);
  t.is(s.misses, 1);
  c.checkInvariants();
});

test('an expired CNAME link breaks the chain; the A owner stays while its record is valid', (t) => {
  const c = new DnsCache();
  c.insert(1, chainReply, T0);
  t.deepEqual(c.lookup(1, '127.0.0.77', T0 + 5 * S - 1), ['api.example.test', 'edge.example.test']);
  t.deepEqual(c.lookup(1, '127.0.0.77', T0 + 5 * S), ['edge.example.test']);
  t.is(c.stats().expiredLinks, 1);
  t.deepEqual(c.lookup(1, '127.0.0.77', T0 + 300 * S - 1), ['edge.example.test']);
  t.deepEqual(c.lookup(1, '127.0.0.77', T0 + 300 * S), []);
  const s = c.stats();
  t.is(s.expiredMisses, 1);
  t.is(s.addresses, 0); // the address with no valid link is dropped
  c.checkInvariants();
});

test('a connect timed just before the reply (CPU skew in the ring) still sees it', (t) => {
  const c = new DnsCache();
  c.insert(1, chainReply, T0);
  // A connect timed before the reply still sees the links (expiry is the only bound checked);
  // ring-buffer order guarantees the reply was captured first.
  t.deepEqual(c.lookup(1, '127.0.0.77', T0 - 1), ['api.example.test', 'edge.example.test']);
});

test('a break in the middle of a longer chain drops only the names above it', (t) => {
  const c = new DnsCache();
  c.insert(1, rep('q.test', [['q.test', 'c1.test', 100], ['c1.test', 'c2.test', 10]], [['c2.test', '10.0.0.1', 100]]), T0);
  t.deepEqual(c.lookup(1, '10.0.0.1', T0), ['q.test', 'c1.test', 'c2.test']);
  t.deepEqual(c.lookup(1, '10.0.0.1', T0 + 10 * S), ['c2.test']);
  // Even though q -> c1 is still valid, c1 is no longer reachable.
  c.checkInvariants();
});

test('expired top link: the rest of the chain is kept', (t) => {
  const c = new DnsCache();
  c.insert(1, rep('q.test', [['q.test', 'c1.test', 10], ['c1.test', 'c2.test', 100]], [['c2.test', '10.0.0.1', 100]]), T0);
  t.deepEqual(c.lookup(1, '10.0.0.1', T0 + 20 * S), ['c1.test', 'c2.test']);
});

test('two names for one address: both, most recently resolved first, deduplicated', (t) => {
  const c = new DnsCache();
  c.insert(1, rep('one.test', [], [['one.test', '10.0.0.9', 60]]), T0);
  c.insert(1, rep('two.test', [['two.test', 'cdn.test', 60]], [['cdn.test', '10.0.0.9', 60]]), T0 + S);
  t.deepEqual(c.lookup(1, '10.0.0.9', T0 + 2 * S), ['two.test', 'cdn.test', 'one.test']);
  // one.test asked again: it becomes the most recent.
  c.insert(1, rep('one.test', [], [['one.test', '10.0.0.9', 60]]), T0 + 3 * S);
  t.deepEqual(c.lookup(1, '10.0.0.9', T0 + 4 * S), ['one.test', 'two.test', 'cdn.test']);
  // A third name behind the same CDN name: it is a second path through cdn.test.
  c.insert(1, rep('three.test', [['three.test', 'cdn.test', 60]], [['cdn.test', '10.0.0.9', 60]]), T0 + 5 * S);
  t.deepEqual(c.lookup(1, '10.0.0.9', T0 + 6 * S), ['three.test', 'cdn.test', 'two.test', 'one.test']);
  c.checkInvariants();
});

test('chains join across replies (CNAME in one, A in a later one)', (t) => {
  const c = new DnsCache();
  c.insert(1, rep('www.test', [['www.test', 'lb.test', 60]], []), T0);
  c.insert(1, rep('lb.test', [], [['lb.test', '10.0.0.5', 60]]), T0 + S);
  t.deepEqual(c.lookup(1, '10.0.0.5', T0 + 2 * S), ['www.test', 'lb.test']);
});

test('a name re-pointed to another CNAME target leaves the old chain', (t) => {
  const c = new DnsCache();
  c.insert(1, rep('q.test', [['q.test', 'old.test', 60]], [['old.test', '10.0.0.1', 60]]), T0);
  c.insert(1, rep('q.test', [['q.test', 'new.test', 60]], [['new.test', '10.0.0.2', 60]]), T0 + S);
  t.deepEqual(c.lookup(1, '10.0.0.1', T0 + 2 * S), ['old.test']);
  t.deepEqual(c.lookup(1, '10.0.0.2', T0 + 2 * S), ['q.test', 'new.test']);
  c.checkInvariants();
});

test('a reply seen again extends the expiry', (t) => {
  const c = new DnsCache();
  c.insert(1, chainReply, T0);
  c.insert(1, chainReply, T0 + 4 * S);
  t.deepEqual(c.lookup(1, '127.0.0.77', T0 + 8 * S), ['api.example.test', 'edge.example.test']);
  t.deepEqual(c.lookup(1, '127.0.0.77', T0 + 9 * S), ['edge.example.test']);
});

test('TTL floor (TTL 0 still labels the connect that follows) and ceiling', (t) => {
  const c = new DnsCache({ maxTtlSeconds: 100, minTtlSeconds: 1 });
  c.insert(1, rep('zero.test', [], [['zero.test', '10.0.0.1', 0]]), T0);
  c.insert(1, rep('long.test', [], [['long.test', '10.0.0.2', 4_000_000_000]]), T0);
  t.deepEqual(c.lookup(1, '10.0.0.1', T0 + 1000), ['zero.test']);
  t.deepEqual(c.lookup(1, '10.0.0.1', T0 + S), []);
  t.deepEqual(c.lookup(1, '10.0.0.2', T0 + 99 * S), ['long.test']);
  t.deepEqual(c.lookup(1, '10.0.0.2', T0 + 100 * S), []);
  const strict = new DnsCache({ minTtlSeconds: 0 });
  strict.insert(1, rep('zero.test', [], [['zero.test', '10.0.0.1', 0]]), T0);
  t.deepEqual(strict.lookup(1, '10.0.0.1', T0), []);
});

test('scope netns: a reply labels only connects in its own namespace; host: all', (t) => {
  const ns = new DnsCache({ scope: 'netns' });
  ns.insert(1, chainReply, T0);
  t.deepEqual(ns.lookup(2, '127.0.0.77', T0), []);
  t.deepEqual(ns.lookup(1, '127.0.0.77', T0), ['api.example.test', 'edge.example.test']);
  // The same name in two namespaces can point at different addresses.
  ns.insert(2, rep('api.example.test', [], [['api.example.test', '10.9.9.9', 60]]), T0);
  t.deepEqual(ns.lookup(2, '10.9.9.9', T0), ['api.example.test']);
  t.deepEqual(ns.lookup(1, '10.9.9.9', T0), []);
  t.is(ns.stats().scopes, 2);
  ns.checkInvariants();
  const host = new DnsCache({ scope: 'host' });
  host.insert(1, chainReply, T0);
  t.deepEqual(host.lookup(2, '127.0.0.77', T0), ['api.example.test', 'edge.example.test']);
  t.is(host.stats().scopes, 1);
});

test('results are fresh arrays; memo follows inserts and expiry', (t) => {
  const c = new DnsCache();
  c.insert(1, chainReply, T0);
  const a = c.lookup(1, '127.0.0.77', T0);
  a.push('mutated');
  const b = c.lookup(1, '127.0.0.77', T0 + 1);
  t.deepEqual(b, ['api.example.test', 'edge.example.test']);
  t.not(a, b);
  // memoized result must still respect expiry
  t.deepEqual(c.lookup(1, '127.0.0.77', T0 + 5 * S), ['edge.example.test']);
  // and inserts
  c.insert(1, rep('alias.test', [['alias.test', 'edge.example.test', 60]], []), T0 + 6 * S);
  t.deepEqual(c.lookup(1, '127.0.0.77', T0 + 7 * S), ['alias.test', 'edge.example.test']);
});

test('memo per address: inserts elsewhere keep it, an insert on its chain drops it', (t) => {
  const c = new DnsCache();
  c.insert(1, chainReply, T0);
  c.insert(1, rep('other.test', [['other.test', 'o-edge.test', 60]], [['o-edge.test', '10.0.0.1', 60]]), T0);
  t.deepEqual(c.lookup(1, '127.0.0.77', T0 + 1), ['api.example.test', 'edge.example.test']);
  t.deepEqual(c.lookup(1, '10.0.0.1', T0 + 1), ['other.test', 'o-edge.test']);
  const computes = c.computes;
  const memoHits = c.memoHits;
  // Replies about names and addresses unrelated to 127.0.0.77.
  for (let i = 0; i < 20; i++) c.insert(1, rep(`u${i}.test`, [[`u${i}.test`, `u-edge${i}.test`, 60]], [[`u-edge${i}.test`, `10.1.0.${i}`, 60]]), T0 + 2 + i);
  t.deepEqual(c.lookup(1, '127.0.0.77', T0 + 40), ['api.example.test', 'edge.example.test']);
  t.is(c.computes, computes, 'no walk: the memo survived the unrelated inserts');
  t.is(c.memoHits, memoHits + 1);
  // other.test's chain re-asserted as it was (later, so expiring later): same result, the memo stays.
  c.insert(1, rep('other.test', [['other.test', 'o-edge.test', 60]], [['o-edge.test', '10.0.0.1', 60]]), T0 + 30);
  t.deepEqual(c.lookup(1, '10.0.0.1', T0 + 41), ['other.test', 'o-edge.test']);
  t.is(c.computes, computes, 'a chain re-asserted as it was keeps its memo');
  // Re-asserted with a shorter TTL: it expires earlier, so the memo goes (and the earlier expiry holds).
  c.insert(1, rep('other.test', [['other.test', 'o-edge.test', 1]], []), T0 + 42);
  t.deepEqual(c.lookup(1, '10.0.0.1', T0 + 43), ['other.test', 'o-edge.test']);
  t.is(c.computes, computes + 1, 'walked again');
  t.deepEqual(c.lookup(1, '10.0.0.1', T0 + 42 + S), ['o-edge.test']);
  // A CNAME to a name on the chain (above the A record's owner) changes the result.
  c.insert(1, rep('alias.test', [['alias.test', 'api.example.test', 60]], []), T0 + 50);
  t.deepEqual(c.lookup(1, '127.0.0.77', T0 + 51), ['alias.test', 'api.example.test', 'edge.example.test']);
  // A CNAME further down the chain (to the owner itself), from a new name.
  c.insert(1, rep('www.test', [['www.test', 'edge.example.test', 60]], []), T0 + 52);
  t.deepEqual(c.lookup(1, '127.0.0.77', T0 + 53), ['www.test', 'edge.example.test', 'alias.test', 'api.example.test']);
  // A new owner of the address.
  c.insert(1, rep('direct.test', [], [['direct.test', '127.0.0.77', 60]]), T0 + 54);
  t.deepEqual(c.lookup(1, '127.0.0.77', T0 + 55), ['direct.test', 'www.test', 'edge.example.test', 'alias.test', 'api.example.test']);
  // A name above the chain re-pointed elsewhere leaves it.
  c.insert(1, rep('alias.test', [['alias.test', 'elsewhere.test', 60]], []), T0 + 56);
  t.deepEqual(c.lookup(1, '127.0.0.77', T0 + 57), ['direct.test', 'www.test', 'edge.example.test', 'api.example.test']);
  // The memo never outlives the earliest expiry on its chain (api -> edge: 5 s).
  t.deepEqual(c.lookup(1, '127.0.0.77', T0 + 5 * S), ['direct.test', 'www.test', 'edge.example.test']);
  c.checkInvariants();
});

test('memo per address: a link dropped by linksPerNode on the name side drops the memo of the address it left', (t) => {
  const c = new DnsCache({ linksPerNode: 2 });
  c.insert(1, rep('n1.test', [], [['n1.test', '10.0.0.1', 60]]), T0);
  c.insert(1, rep('n2.test', [], [['n2.test', '10.0.0.1', 60]]), T0 + 1);
  t.deepEqual(c.lookup(1, '10.0.0.1', T0 + 2), ['n2.test', 'n1.test']);
  // n1.test gets two more addresses: its oldest, 10.0.0.1, is dropped.
  c.insert(1, rep('n1.test', [], [['n1.test', '10.0.0.2', 60], ['n1.test', '10.0.0.3', 60]]), T0 + 3);
  t.deepEqual(c.lookup(1, '10.0.0.1', T0 + 4), ['n2.test']);
  c.checkInvariants();
});

test('memo hits keep the names of the chain recently used (LRU), as a walk would', (t) => {
  const c = new DnsCache({ maxNames: 10 });
  c.insert(1, rep('hot.test', [['hot.test', 'hot-edge.test', 3600]], [['hot-edge.test', '10.9.0.1', 3600]]), T0);
  for (let i = 0; i < 100; i++) {
    c.insert(1, rep(`n${i}.test`, [], [[`n${i}.test`, `10.0.0.${i}`, 60]]), T0 + i);
    t.deepEqual(c.lookup(1, '10.9.0.1', T0 + i), ['hot.test', 'hot-edge.test']);
  }
  t.true(c.memoHits > 90, `memo hits ${c.memoHits}`);
  t.true(c.stats().evictedNames > 80);
  c.checkInvariants();
});

/** Random replies and lookups over a few names and addresses: CNAME chains, fan-in, loops, re-pointing, expiry. */
const opArb = fc.oneof(
  { weight: 2, arbitrary: fc.record({
    kind: fc.constant('insert' as const),
    question: fc.nat(5),
    cnames: fc.array(fc.tuple(fc.nat(5), fc.nat(5), fc.integer({ min: 0, max: 6 })), { maxLength: 3 }),
    addrs: fc.array(fc.tuple(fc.nat(5), fc.nat(3), fc.integer({ min: 0, max: 6 })), { maxLength: 3 }),
    dt: fc.integer({ min: 0, max: 2 * S }),
  }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('lookup' as const), ip: fc.nat(3), dt: fc.integer({ min: 0, max: 2 * S }) }) },
);

test('property: with memos, every lookup gives what a cache holding the same replies and no memo gives', (t) => {
  fc.assert(fc.property(fc.array(opArb, { minLength: 10, maxLength: 60 }), fc.constantFrom(2, 32), (ops, maxResults) => {
    const opts = { maxResults, linksPerNode: 64 };
    const c = new DnsCache(opts);
    const replies: [ParsedReply, number][] = [];
    let now = T0;
    for (const op of ops) {
      now += op.dt;
      if (op.kind === 'insert') {
        const r = rep(`n${op.question}.test`, op.cnames.map(([a, b, ttl]) => [`n${a}.test`, `n${b}.test`, ttl]), op.addrs.map(([n, ip, ttl]) => [`n${n}.test`, `10.0.0.${ip}`, ttl]));
        c.insert(1, r, now);
        replies.push([r, now]);
      } else {
        const ip = `10.0.0.${op.ip}`;
        const fresh = new DnsCache(opts);
        for (const [r, at] of replies) fresh.insert(1, r, at);
        const want = fresh.lookup(1, ip, now);
        const got = c.lookup(1, ip, now);
        if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${ip} at +${now - T0}: ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
      }
    }
    c.checkInvariants();
  }), { numRuns: 3000 });
  t.pass();
});

test('property: a cache with memos and one walking every lookup agree on results, counters and what they evict', (t) => {
  // Small bounds (evictions, dropped links), two namespaces, time that goes back a little (CPU skew in the ring).
  const step = fc.oneof(
    { weight: 2, arbitrary: fc.record({
      kind: fc.constant('insert' as const),
      ns: fc.nat(1),
      question: fc.nat(7),
      cnames: fc.array(fc.tuple(fc.nat(7), fc.nat(7), fc.integer({ min: 0, max: 6 })), { maxLength: 3 }),
      addrs: fc.array(fc.tuple(fc.nat(7), fc.nat(5), fc.integer({ min: 0, max: 6 })), { maxLength: 3 }),
      dt: fc.integer({ min: -S / 10, max: 2 * S }),
    }) },
    { weight: 3, arbitrary: fc.record({ kind: fc.constant('lookup' as const), ns: fc.nat(1), ip: fc.nat(5), dt: fc.integer({ min: -S / 10, max: 2 * S }) }) },
  );
  // From tight (an eviction on every reply) to loose (none).
  const bounds = fc.record({
    maxNames: fc.integer({ min: 2, max: 12 }),
    maxAddresses: fc.integer({ min: 1, max: 8 }),
    maxLinks: fc.integer({ min: 1, max: 50 }),
    linksPerNode: fc.integer({ min: 1, max: 4 }),
    maxResults: fc.integer({ min: 1, max: 6 }),
  });
  fc.assert(fc.property(fc.array(step, { minLength: 20, maxLength: 80 }), bounds, (ops, b) => {
    const memo = new DnsCache(b);
    const walk = new DnsCache({ ...b, memoize: false });
    let now = T0;
    for (const op of ops) {
      now += op.dt;
      if (op.kind === 'insert') {
        const r = rep(`n${op.question}.test`, op.cnames.map(([x, y, ttl]) => [`n${x}.test`, `n${y}.test`, ttl]), op.addrs.map(([n, ip, ttl]) => [`n${n}.test`, `10.0.0.${ip}`, ttl]));
        memo.insert(op.ns, r, now);
        walk.insert(op.ns, r, now);
      } else {
        const ip = `10.0.0.${op.ip}`;
        const got = memo.lookup(op.ns, ip, now);
        const want = walk.lookup(op.ns, ip, now);
        if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${ip} at +${now - T0}: ${JSON.stringify(got)}, want ${JSON.stringify(want)}`);
      }
      const sm = JSON.stringify(memo.stats());
      const sw = JSON.stringify(walk.stats());
      if (sm !== sw) throw new Error(`stats ${sm}, want ${sw}`);
    }
    memo.checkInvariants();
    t.is(walk.memoHits, 0);
  }), { numRuns: 3000 });
  t.pass();
});

test('maxResults caps the names reported', (t) => {
  const c = new DnsCache({ maxResults: 3 });
  for (let i = 0; i < 10; i++) c.insert(1, rep(`n${i}.test`, [], [[`n${i}.test`, '10.0.0.1', 60]]), T0 + i);
  t.deepEqual(c.lookup(1, '10.0.0.1', T0 + 20), ['n9.test', 'n8.test', 'n7.test']);
});

test('linksPerNode: an address keeps its most recent owners', (t) => {
  const c = new DnsCache({ linksPerNode: 4 });
  for (let i = 0; i < 10; i++) c.insert(1, rep(`n${i}.test`, [], [[`n${i}.test`, '10.0.0.1', 60]]), T0 + i);
  t.deepEqual(c.lookup(1, '10.0.0.1', T0 + 20), ['n9.test', 'n8.test', 'n7.test', 'n6.test']);
  t.is(c.stats().droppedLinks, 6);
  // a name with many addresses keeps its most recent ones
  const many = rep('rr.test', [], Array.from({ length: 10 }, (_, i): [string, string, number] => ['rr.test', `10.1.0.${i}`, 60]));
  c.insert(1, many, T0 + 30);
  t.deepEqual(c.lookup(1, '10.1.0.0', T0 + 31), []);
  t.deepEqual(c.lookup(1, '10.1.0.9', T0 + 31), ['rr.test']);
  // many names CNAME to one target
  for (let i = 0; i < 10; i++) c.insert(1, rep(`a${i}.test`, [[`a${i}.test`, 'cdn.test', 60]], [['cdn.test', '10.2.0.1', 60]]), T0 + 40 + i);
  t.deepEqual(c.lookup(1, '10.2.0.1', T0 + 60), ['a9.test', 'cdn.test', 'a8.test', 'a7.test', 'a6.test']);
  c.checkInvariants();
});

test('LRU bounds: names, addresses, links; recently used entries survive', (t) => {
  const c = new DnsCache({ maxNames: 100, maxAddresses: 50, maxLinks: 80 });
  c.insert(1, rep('keep.test', [], [['keep.test', '10.255.0.1', 3600]]), T0);
  for (let i = 0; i < 1000; i++) {
    c.insert(1, rep(`flood${i}.test`, [[`flood${i}.test`, `edge${i}.test`, 60]], [[`edge${i}.test`, `10.0.${i >> 8}.${i & 255}`, 60]]), T0 + i);
    // a hot destination: looked up all the time
    c.lookup(1, '10.255.0.1', T0 + i);
    t.true(c.nameCount <= 100 && c.addressCount <= 50);
  }
  c.checkInvariants();
  t.deepEqual(c.lookup(1, '10.255.0.1', T0 + 2000), ['keep.test']);
  t.deepEqual(c.lookup(1, '10.0.3.231', T0 + 2000), ['flood999.test', 'edge999.test']);
  t.deepEqual(c.lookup(1, '10.0.0.0', T0 + 2000), []);
  const s = c.stats();
  t.true(s.evictedNames > 0);
  t.true(s.evictedAddresses > 0);
  t.true(s.addressLinks <= 80);
});

test('scopes come and go with their entries', (t) => {
  const c = new DnsCache({ maxNames: 10 });
  for (let i = 0; i < 100; i++) c.insert(i, rep(`n${i}.test`, [], [[`n${i}.test`, '10.0.0.1', 60]]), T0);
  t.true(c.stats().scopes <= 10);
  c.checkInvariants();
});

test('bad options are refused', (t) => {
  t.throws(() => new DnsCache({ maxNames: 0 }));
  t.throws(() => new DnsCache({ maxAddresses: 1.5 }));
  t.throws(() => new DnsCache({ scope: 'pod' as 'host' }));
  t.throws(() => new DnsCache({ minTtlSeconds: 10, maxTtlSeconds: 5 }));
});

test('namespaces: lookups alternating between scopes, and a scope emptied, dropped and made again', (t) => {
  const c = new DnsCache({ maxNames: 2 });
  c.insert(1, rep('one.test', [], [['one.test', '10.0.0.1', 60]]), T0);
  c.insert(2, rep('two.test', [], [['two.test', '10.0.0.1', 60]]), T0);
  for (let i = 0; i < 3; i++) {
    t.deepEqual(c.lookup(1, '10.0.0.1', T0 + 1), ['one.test']);
    t.deepEqual(c.lookup(2, '10.0.0.1', T0 + 1), ['two.test']);
    t.deepEqual(c.lookup(3, '10.0.0.1', T0 + 1), []);
  }
  t.deepEqual(c.lookup(1, '10.0.0.1', T0 + 1), ['one.test']);
  // Two names in scope 3 evict both others: scopes 1 and 2 are dropped.
  c.insert(3, rep('three.test', [], [['three.test', '10.0.0.3', 60]]), T0 + 2);
  c.insert(3, rep('four.test', [], [['four.test', '10.0.0.4', 60]]), T0 + 2);
  t.is(c.stats().scopes, 1);
  t.deepEqual(c.lookup(1, '10.0.0.1', T0 + 3), []);
  // Scope 1 again: a new scope, found by the next lookup.
  c.insert(1, rep('again.test', [], [['again.test', '10.0.0.1', 60]]), T0 + 4);
  t.deepEqual(c.lookup(1, '10.0.0.1', T0 + 5), ['again.test']);
  t.deepEqual(c.lookup(3, '10.0.0.4', T0 + 5), ['four.test']); // three.test was the least recently used
  c.checkInvariants();
});
