// The DNS cache behind NetTCPConnect.results: destination address -> the DNS
// names that resolved to it, built from the DNS replies seen on the host.
// Semantics (README.md beside ../ has the user-facing version):
//
// - Graph: name --CNAME--> name links and name --A/AAAA--> address links, each
//   with its own expiry = reply time + TTL (TTL cut to [minTtl, maxTtl]).
//   Links from different replies join up (CNAME in one reply, A in a later one).
// - results(ip) at time t: walk up from the address through links still valid
//   at t; each path ends at a name no valid CNAME points to. A path is reported
//   root first (the question, then the CNAMEs, down to the name owning the
//   A/AAAA record). An expired link breaks the chain: names above it are not
//   reported, names below it still are while their own links are valid.
//   Several paths (several names resolving to one address): most recently
//   asserted first, names deduplicated, at most maxResults names.
// - Scope: per network namespace (netns cookie), or one host-wide scope.
// - Bounds: at most maxNames names, maxAddresses addresses and maxLinks A/AAAA
//   links (LRU eviction: "used" = asserted by a reply or reported in a result),
//   at most linksPerNode owners per address / parents per name / addresses per
//   name (oldest link dropped). CNAME links are at most one per name.
// - Time is the kernel boot clock of the events (ns, as a JS number: exact to
//   the ns for 104 days of uptime, within a few ns after), so expiry is exact
//   relative to the connect whatever the consumer's delay.
import type { ParsedReply } from './parse.ts';
import { MAX_CHAIN } from './parse.ts';

/** enrich.dnsCache.scope: one cache per network namespace, or one for the host. */
export const DNS_SCOPES = ['netns', 'host'] as const;
export type DnsScopeMode = (typeof DNS_SCOPES)[number];

export interface DnsCacheOptions {
  /** Names kept (questions and CNAME targets). Default 65536 (config enrich.dnsCache.maxNames). */
  maxNames?: number;
  /** Addresses kept. Default 65536 (config enrich.dnsCache.maxAddresses). */
  maxAddresses?: number;
  /** A/AAAA links (name -> address) kept. Default 4 x maxNames. */
  maxLinks?: number;
  /** 'netns' (default): a reply labels only connects in its own network namespace; 'host': one cache for the host. */
  scope?: DnsScopeMode;
  /** TTLs above this are cut to it. Default 86400 (config enrich.dnsCache.maxTtlSeconds). */
  maxTtlSeconds?: number;
  /** TTLs below this are raised to it, so a TTL-0 answer still labels the connect that follows it. Default 1. */
  minTtlSeconds?: number;
  /** Names reported per address at most. Default 32. */
  maxResults?: number;
  /** Owners per address, CNAME parents per name, addresses per name, at most (oldest link dropped). Default 16; keep it small: links are scanned linearly. */
  linksPerNode?: number;
  /** Keep each address's last result until a link it depends on changes or expires (default true; false walks on every lookup, for comparisons). */
  memoize?: boolean;
}

export interface DnsCacheStats {
  scopes: number;
  names: number;
  addresses: number;
  addressLinks: number;
  cnameLinks: number;
  /** Replies stored. */
  inserts: number;
  /** Lookups that returned at least one name. */
  hits: number;
  /** Lookups of an address the cache did not hold. */
  misses: number;
  /** Lookups of an address held only by expired links. */
  expiredMisses: number;
  /** Links found expired (and removed) during lookups. */
  expiredLinks: number;
  evictedNames: number;
  evictedAddresses: number;
  /** Links dropped because a node had linksPerNode already. */
  droppedLinks: number;
}

const NS_PER_S = 1e9;

/**
 * A node's links to nodes of one kind, oldest first (a re-asserted link moves
 * to the end): null for none, the node itself for one, an array for two or
 * more. Almost every name has one parent or one address, so it needs no
 * collection at all; arrays, not Sets, for the others: a Set of two takes
 * about 230 bytes, an array of two 64, and there are at most linksPerNode
 * (16) links to scan.
 */
type Links<T extends NameNode | AddrNode> = T | T[] | null;

function linkCount<T extends NameNode | AddrNode>(links: Links<T>): number {
  return links === null ? 0 : Array.isArray(links) ? links.length : 1;
}

function hasLink<T extends NameNode | AddrNode>(links: Links<T>, node: T): boolean {
  return Array.isArray(links) ? links.includes(node) : links === node;
}

/** `links` with `node` as the most recent. */
function withLink<T extends NameNode | AddrNode>(links: Links<T>, node: T): Links<T> {
  if (links === null || links === node) return node;
  if (!Array.isArray(links)) return [links, node];
  const i = links.indexOf(node);
  if (i < 0) return [...links, node]; // exactly one slot more (push grows the array by 16 or more)
  links.copyWithin(i, i + 1);
  links[links.length - 1] = node;
  return links;
}

/** `links` without `node` (the one node left itself, not an array of one). */
function withoutLink<T extends NameNode | AddrNode>(links: Links<T>, node: T): Links<T> {
  if (!Array.isArray(links)) return links === node ? null : links;
  const i = links.indexOf(node);
  if (i < 0) return links;
  if (links.length === 2) return links[1 - i]!;
  links.splice(i, 1);
  return links;
}

function oldestLink<T extends NameNode | AddrNode>(links: Links<T>): T | null {
  return Array.isArray(links) ? links[0]! : links;
}

/** `links` as an array, oldest first: a copy, to iterate while the links change. */
function linkArray<T extends NameNode | AddrNode>(links: Links<T>): T[] {
  return links === null ? [] : Array.isArray(links) ? links.slice() : [links];
}

class NameNode {
  readonly name: string;
  readonly scope: Scope;
  prev: NameNode | null = null;
  next: NameNode | null = null;
  /** This name's CNAME target, and that link's expiry (a name has at most one CNAME). */
  cname: NameNode | null = null;
  cnameExpiry = 0;
  /** Names whose CNAME is this name (the expiry is their cnameExpiry). */
  parents: Links<NameNode> = null;
  /** Addresses this name has A/AAAA links to (the expiry is in the address). */
  addrs: Links<AddrNode> = null;
  constructor(name: string, scope: Scope) {
    this.name = name;
    this.scope = scope;
  }
}

class AddrNode {
  readonly ip: string;
  readonly scope: Scope;
  prev: AddrNode | null = null;
  next: AddrNode | null = null;
  /**
   * Names with an A/AAAA record to this address, oldest first, with each
   * link's expiry: one name (the usual case) with its expiry in ownerExpiry,
   * or a Map name -> expiry for two or more (few addresses have several names).
   */
  owners: NameNode | Map<NameNode, number> | null = null;
  ownerExpiry = 0;
  /** The last result (null: not looked up yet, or dropped because a link it depends on changed). */
  memo: Memo | null = null;
  constructor(ip: string, scope: Scope) {
    this.ip = ip;
    this.scope = scope;
  }

  get ownerCount(): number {
    const owners = this.owners;
    return owners === null ? 0 : owners instanceof Map ? owners.size : 1;
  }

  hasOwner(owner: NameNode): boolean {
    const owners = this.owners;
    return owners instanceof Map ? owners.has(owner) : owners === owner;
  }

  oldestOwner(): NameNode | null {
    const owners = this.owners;
    return owners instanceof Map ? owners.keys().next().value! : owners;
  }

  /** Link `owner` (again) as the most recent owner, expiring at `expiry`; true for a new link. */
  linkOwner(owner: NameNode, expiry: number): boolean {
    const owners = this.owners;
    if (owners === null || owners === owner) {
      this.owners = owner;
      this.ownerExpiry = expiry;
      return owners === null;
    }
    if (owners instanceof Map) {
      const had = owners.delete(owner); // re-insert: most recently asserted last
      owners.set(owner, expiry);
      return !had;
    }
    this.owners = new Map([[owners, this.ownerExpiry], [owner, expiry]]);
    return true;
  }

  /** Remove the link from `owner`, if any. */
  unlinkOwner(owner: NameNode): void {
    const owners = this.owners;
    if (!(owners instanceof Map)) {
      if (owners === owner) this.owners = null;
      return;
    }
    owners.delete(owner);
    if (owners.size === 1) [this.owners, this.ownerExpiry] = owners.entries().next().value!;
  }

  /** Drop the memoized result (a link it depends on changed). */
  forget(): void {
    this.memo = null;
  }
}

/**
 * An address's last result, valid for lookups before `until` (the earliest
 * expiry of the links its walk went through), and the names that walk
 * touched, in order: a memo hit touches them again, so the LRU order is the
 * one a walk would leave. Made by a lookup: most addresses of a full cache
 * have none.
 */
class Memo {
  readonly names: string[];
  readonly touched: NameNode[];
  readonly until: number;
  constructor(names: string[], touched: NameNode[], until: number) {
    this.names = names;
    this.touched = touched;
    this.until = until;
  }
}

class Scope {
  readonly key: number;
  readonly names = new Map<string, NameNode>();
  readonly addrs = new Map<string, AddrNode>();
  constructor(key: number) {
    this.key = key;
  }
}

interface Linked<T> { prev: T | null; next: T | null }

/** Intrusive LRU list: head = most recently used. O(1) touch/remove, no allocation. */
class LruList<T extends Linked<T>> {
  head: T | null = null;
  tail: T | null = null;
  size = 0;
  pushHead(n: T): void {
    n.prev = null;
    n.next = this.head;
    if (this.head !== null) this.head.prev = n;
    this.head = n;
    if (this.tail === null) this.tail = n;
    this.size++;
  }
  remove(n: T): void {
    if (n.prev !== null) n.prev.next = n.next;
    else this.head = n.next;
    if (n.next !== null) n.next.prev = n.prev;
    else this.tail = n.prev;
    n.prev = n.next = null;
    this.size--;
  }
  touch(n: T): void {
    const head = this.head;
    if (head === n) return;
    // n is not the head, so n.prev is set: unlink n, then link it in before the head.
    const prev = n.prev!;
    const next = n.next;
    prev.next = next;
    if (next !== null) next.prev = prev;
    else this.tail = prev;
    n.prev = null;
    n.next = head;
    head!.prev = n;
    this.head = n;
  }
}

export const DNS_CACHE_DEFAULTS = {
  maxNames: 65536,
  maxAddresses: 65536,
  scope: 'netns' as DnsScopeMode,
  maxTtlSeconds: 86400,
  minTtlSeconds: 1,
  maxResults: 32,
  linksPerNode: 16,
} as const;

export class DnsCache {
  readonly maxNames: number;
  readonly maxAddresses: number;
  readonly maxLinks: number;
  readonly scopeMode: DnsScopeMode;
  readonly maxResults: number;
  readonly linksPerNode: number;
  readonly memoize: boolean;
  readonly #minTtlNs: number;
  readonly #maxTtlNs: number;

  readonly #scopes = new Map<number, Scope>();
  /** The scope of the last lookup (most connects are in one namespace): spares a Map lookup by a netns cookie. */
  #lastScope: Scope | undefined = undefined;
  readonly #names = new LruList<NameNode>();
  readonly #addrs = new LruList<AddrNode>();
  #addressLinks = 0;
  #cnameLinks = 0;
  /** Scratch path for the upward walk (no allocation per lookup). */
  readonly #path: NameNode[] = [];

  // Counters (plain fields; stats() copies them).
  #inserts = 0;
  #hits = 0;
  #misses = 0;
  #expiredMisses = 0;
  #expiredLinks = 0;
  #evictedNames = 0;
  #evictedAddresses = 0;
  #droppedLinks = 0;
  #memoHits = 0;
  #computes = 0;

  constructor(opts: DnsCacheOptions = {}) {
    const d = DNS_CACHE_DEFAULTS;
    this.maxNames = positive(opts.maxNames ?? d.maxNames, 'maxNames');
    this.maxAddresses = positive(opts.maxAddresses ?? d.maxAddresses, 'maxAddresses');
    this.maxLinks = positive(opts.maxLinks ?? 4 * this.maxNames, 'maxLinks');
    this.scopeMode = opts.scope ?? d.scope;
    if (this.scopeMode !== 'netns' && this.scopeMode !== 'host') throw new Error(`dns cache scope must be netns or host, not ${String(this.scopeMode)}`);
    this.maxResults = positive(opts.maxResults ?? d.maxResults, 'maxResults');
    this.linksPerNode = positive(opts.linksPerNode ?? d.linksPerNode, 'linksPerNode');
    this.memoize = opts.memoize ?? true;
    const maxTtl = positive(opts.maxTtlSeconds ?? d.maxTtlSeconds, 'maxTtlSeconds');
    const minTtl = opts.minTtlSeconds ?? d.minTtlSeconds;
    if (!(minTtl >= 0) || minTtl > maxTtl) throw new Error('dns cache minTtlSeconds must be in [0, maxTtlSeconds]');
    this.#minTtlNs = minTtl * NS_PER_S;
    this.#maxTtlNs = maxTtl * NS_PER_S;
  }

  #scopeKey(netnsCookie: number): number {
    return this.scopeMode === 'host' ? 0 : netnsCookie;
  }

  #ttlNs(ttl: number): number {
    const ns = ttl * NS_PER_S;
    return ns < this.#minTtlNs ? this.#minTtlNs : ns > this.#maxTtlNs ? this.#maxTtlNs : ns;
  }

  /** Store the links of one parsed reply seen at `nowNs` (kernel boot clock) in namespace `netnsCookie`. */
  insert(netnsCookie: number, reply: ParsedReply, nowNs: number): void {
    if (reply.cnames.length === 0 && reply.addresses.length === 0) return; // NODATA: nothing to link
    const key = this.#scopeKey(netnsCookie);
    let scope = this.#scopes.get(key);
    if (scope === undefined) {
      scope = new Scope(key);
      this.#scopes.set(key, scope);
    }
    this.#inserts++;
    // The question is a name even without links of its own (it is the root of the chain).
    this.#name(scope, reply.question);
    for (const link of reply.cnames) {
      if (link.name === link.target) continue;
      const owner = this.#name(scope, link.name);
      const target = this.#name(scope, link.target);
      this.#setCname(owner, target, nowNs + this.#ttlNs(link.ttl));
    }
    for (const rec of reply.addresses) {
      const owner = this.#name(scope, rec.name);
      const addr = this.#addr(scope, rec.ip);
      this.#setOwner(addr, owner, nowNs + this.#ttlNs(rec.ttl));
    }
    this.#evict();
  }

  /**
   * Names behind `ip` for a connect at `nowNs` in namespace `netnsCookie`: a
   * fresh array (the caller may keep it), [] on a miss. `ip` must be canonical
   * text (see model/ip.ts).
   */
  lookup(netnsCookie: number, ip: string, nowNs: number): string[] {
    const key = this.#scopeKey(netnsCookie);
    let scope = this.#lastScope;
    if (scope === undefined || scope.key !== key) {
      scope = this.#scopes.get(key);
      this.#lastScope = scope;
    }
    const addr = scope?.addrs.get(ip);
    if (addr === undefined) {
      this.#misses++;
      return [];
    }
    this.#addrs.touch(addr);
    const memo = addr.memo;
    if (memo !== null && nowNs < memo.until) {
      this.#memoHits++;
      const touched = memo.touched;
      for (let i = 0; i < touched.length; i++) this.#names.touch(touched[i]!);
      if (memo.names.length === 0) {
        this.#expiredMisses++;
        return [];
      }
      this.#hits++;
      return memo.names.slice();
    }
    this.#computes++;
    const touched: NameNode[] = [];
    this.#touched = touched;
    const out = this.#compute(addr, nowNs);
    if (addr.owners === null) {
      this.#removeAddr(addr);
    } else if (this.memoize) {
      addr.memo = new Memo(out, touched, this.#memoUntil);
    }
    if (out.length === 0) {
      this.#expiredMisses++;
      return [];
    }
    this.#hits++;
    return out.slice();
  }

  stats(): DnsCacheStats {
    let names = 0;
    let addresses = 0;
    for (const s of this.#scopes.values()) {
      names += s.names.size;
      addresses += s.addrs.size;
    }
    return {
      scopes: this.#scopes.size,
      names,
      addresses,
      addressLinks: this.#addressLinks,
      cnameLinks: this.#cnameLinks,
      inserts: this.#inserts,
      hits: this.#hits,
      misses: this.#misses,
      expiredMisses: this.#expiredMisses,
      expiredLinks: this.#expiredLinks,
      evictedNames: this.#evictedNames,
      evictedAddresses: this.#evictedAddresses,
      droppedLinks: this.#droppedLinks,
    };
  }

  /** Lookups answered from the address's memoized result (no walk). */
  get memoHits(): number {
    return this.#memoHits;
  }

  /** Lookups that walked the chain (no valid memo). */
  get computes(): number {
    return this.#computes;
  }

  /** Names currently held (all scopes). */
  get nameCount(): number {
    return this.#names.size;
  }

  /** Addresses currently held (all scopes). */
  get addressCount(): number {
    return this.#addrs.size;
  }

  /** Verify the internal invariants (for tests): throws on the first broken one. */
  checkInvariants(): void {
    let names = 0;
    let addrs = 0;
    let aLinks = 0;
    let cLinks = 0;
    // The representation: a collection only for two links or more, no link twice, at most linksPerNode.
    const checkLinks = (count: number, collection: boolean, what: string): void => {
      if (count > this.linksPerNode) throw new Error(`${what}: ${count} links`);
      if (collection && count < 2) throw new Error(`${what}: a collection for ${count} link`);
    };
    const checkNoDuplicates = (links: Links<NameNode> | Links<AddrNode>, what: string): void => {
      if (Array.isArray(links) && new Set<NameNode | AddrNode>(links).size !== links.length) throw new Error(`${what}: a link twice`);
    };
    for (const [key, s] of this.#scopes) {
      if (s.names.size === 0 && s.addrs.size === 0) throw new Error(`empty scope ${key} kept`);
      names += s.names.size;
      addrs += s.addrs.size;
      for (const n of s.names.values()) {
        if (n.cname !== null) {
          cLinks++;
          if (!hasLink(n.cname.parents, n)) throw new Error(`cname ${n.name} -> ${n.cname.name} without reverse link`);
          if (s.names.get(n.cname.name) !== n.cname) throw new Error(`cname target ${n.cname.name} of ${n.name} is not in the cache`);
        }
        checkLinks(linkCount(n.parents), Array.isArray(n.parents), `parents of ${n.name}`);
        checkNoDuplicates(n.parents, `parents of ${n.name}`);
        for (const p of linkArray(n.parents)) if (p.cname !== n) throw new Error(`parent ${p.name} of ${n.name} does not point to it`);
        checkLinks(linkCount(n.addrs), Array.isArray(n.addrs), `addresses of ${n.name}`);
        checkNoDuplicates(n.addrs, `addresses of ${n.name}`);
        for (const a of linkArray(n.addrs)) if (!a.hasOwner(n)) throw new Error(`addr ${a.ip} of ${n.name} without owner link`);
      }
      for (const a of s.addrs.values()) {
        if (a.owners === null) throw new Error(`address ${a.ip} without owners kept`);
        checkLinks(a.ownerCount, a.owners instanceof Map, `owners of ${a.ip}`);
        aLinks += a.ownerCount;
        for (const n of a.owners instanceof Map ? a.owners.keys() : [a.owners]) {
          if (!hasLink(n.addrs, a)) throw new Error(`owner ${n.name} of ${a.ip} without forward link`);
          if (s.names.get(n.name) !== n) throw new Error(`owner ${n.name} of ${a.ip} is not in the cache`);
        }
      }
    }
    if (names !== this.#names.size || addrs !== this.#addrs.size) throw new Error('LRU sizes differ from scope maps');
    if (aLinks !== this.#addressLinks || cLinks !== this.#cnameLinks) throw new Error(`link counts ${aLinks}/${cLinks} vs ${this.#addressLinks}/${this.#cnameLinks}`);
    if (names > this.maxNames || addrs > this.maxAddresses || aLinks > this.maxLinks) throw new Error('bound exceeded');
  }

  // --- insertion -----------------------------------------------------------

  #name(scope: Scope, name: string): NameNode {
    let n = scope.names.get(name);
    if (n === undefined) {
      n = new NameNode(name, scope);
      scope.names.set(name, n);
      this.#names.pushHead(n);
    } else {
      this.#names.touch(n);
    }
    return n;
  }

  #addr(scope: Scope, ip: string): AddrNode {
    let a = scope.addrs.get(ip);
    if (a === undefined) {
      a = new AddrNode(ip, scope);
      scope.addrs.set(ip, a);
      this.#addrs.pushHead(a);
    } else {
      this.#addrs.touch(a);
    }
    return a;
  }

  #setCname(owner: NameNode, target: NameNode, expiry: number): void {
    if (owner.cname === target && target.parents === owner && expiry >= owner.cnameExpiry) {
      // The sole parent re-asserted, expiring no earlier: the same results below it, and every memo
      // of them ends at or before the old expiry already. Keep them.
      owner.cnameExpiry = expiry;
      return;
    }
    // target's parents change (a new link, a new expiry or a new order): so do the results below it.
    this.#invalidateBelow(target);
    if (owner.cname !== null && owner.cname !== target) this.#unlinkCname(owner);
    if (owner.cname === null) {
      owner.cname = target;
      this.#cnameLinks++;
    }
    owner.cnameExpiry = expiry;
    target.parents = withLink(target.parents, owner);
    if (linkCount(target.parents) > this.linksPerNode) {
      this.#unlinkCname(oldestLink(target.parents)!);
      this.#droppedLinks++;
    }
  }

  #unlinkCname(owner: NameNode): void {
    const target = owner.cname!;
    this.#invalidateBelow(target);
    target.parents = withoutLink(target.parents, owner);
    owner.cname = null;
    this.#cnameLinks--;
  }

  #setOwner(addr: AddrNode, owner: NameNode, expiry: number): void {
    if (addr.owners === owner && expiry >= addr.ownerExpiry) {
      // The sole owner re-asserted, expiring no earlier: the same results; the memo (ending at or
      // before the old expiry) stays. The address becomes the owner's most recent one.
      addr.ownerExpiry = expiry;
      owner.addrs = withLink(owner.addrs, addr);
      return;
    }
    addr.forget();
    if (addr.linkOwner(owner, expiry)) this.#addressLinks++;
    owner.addrs = withLink(owner.addrs, addr);
    if (addr.ownerCount > this.linksPerNode) {
      this.#unlinkOwner(addr, addr.oldestOwner()!);
      this.#droppedLinks++;
    }
    if (linkCount(owner.addrs) > this.linksPerNode) {
      const oldest = oldestLink(owner.addrs)!;
      this.#unlinkOwner(oldest, owner);
      this.#droppedLinks++;
      if (oldest.owners === null) this.#removeAddr(oldest);
    }
  }

  #unlinkOwner(addr: AddrNode, owner: NameNode): void {
    addr.forget();
    addr.unlinkOwner(owner);
    owner.addrs = withoutLink(owner.addrs, addr);
    this.#addressLinks--;
  }

  // --- eviction --------------------------------------------------------------

  #evict(): void {
    while (this.#names.size > this.maxNames || this.#addressLinks > this.maxLinks) {
      this.#removeName(this.#names.tail!);
      this.#evictedNames++;
    }
    while (this.#addrs.size > this.maxAddresses) {
      this.#removeAddr(this.#addrs.tail!);
      this.#evictedAddresses++;
    }
  }

  #removeName(n: NameNode): void {
    this.#invalidateBelow(n);
    if (n.cname !== null) this.#unlinkCname(n);
    for (const p of linkArray(n.parents)) p.cname = null;
    this.#cnameLinks -= linkCount(n.parents);
    n.parents = null;
    const addrs = linkArray(n.addrs);
    n.addrs = null;
    for (const a of addrs) {
      a.unlinkOwner(n);
      this.#addressLinks--;
      if (a.owners === null) this.#removeAddr(a);
    }
    n.scope.names.delete(n.name);
    this.#names.remove(n);
    this.#dropScopeIfEmpty(n.scope);
  }

  #removeAddr(a: AddrNode): void {
    const owners = a.owners;
    if (owners instanceof Map) {
      for (const n of owners.keys()) n.addrs = withoutLink(n.addrs, a);
    } else if (owners !== null) {
      owners.addrs = withoutLink(owners.addrs, a);
    }
    this.#addressLinks -= a.ownerCount;
    a.owners = null;
    a.forget();
    a.scope.addrs.delete(a.ip);
    this.#addrs.remove(a);
    this.#dropScopeIfEmpty(a.scope);
  }

  /**
   * Drop the memoized results that a change to `n`'s parents (or to `n`
   * itself) can alter: those of the addresses whose walk passes through `n`,
   * i.e. the addresses of `n` and of the names below it on its CNAME chain
   * (a walk goes up at most MAX_CHAIN names).
   */
  #invalidateBelow(n: NameNode): void {
    let x: NameNode | null = n;
    for (let k = 0; x !== null && k < MAX_CHAIN; k++, x = x.cname) {
      const addrs = x.addrs;
      if (Array.isArray(addrs)) for (let i = 0; i < addrs.length; i++) addrs[i]!.forget();
      else addrs?.forget();
    }
  }

  #dropScopeIfEmpty(s: Scope): void {
    if (s.names.size === 0 && s.addrs.size === 0) {
      this.#scopes.delete(s.key);
      if (this.#lastScope === s) this.#lastScope = undefined;
    }
  }

  // --- lookup ----------------------------------------------------------------

  #memoUntil = Infinity;
  /** Names touched by the walk in progress, in order (becomes its Memo's touched). */
  #touched: NameNode[] = [];

  #compute(addr: AddrNode, now: number): string[] {
    const out: string[] = [];
    this.#memoUntil = Infinity;
    const owners = addr.owners;
    if (owners instanceof Map) {
      // Most recently asserted first.
      const entries = Array.from(owners);
      for (let i = entries.length - 1; i >= 0 && out.length < this.maxResults; i--) {
        const [owner, exp] = entries[i]!;
        this.#walkOwner(addr, owner, exp, out, now);
      }
    } else if (owners !== null) {
      this.#walkOwner(addr, owners, addr.ownerExpiry, out, now);
    }
    return out;
  }

  #walkOwner(addr: AddrNode, owner: NameNode, exp: number, out: string[], now: number): void {
    if (exp <= now) {
      this.#unlinkOwner(addr, owner);
      this.#expiredLinks++;
      return;
    }
    if (exp < this.#memoUntil) this.#memoUntil = exp;
    this.#walkUp(owner, 0, out, now);
  }

  /** Depth-first walk from `node` up through valid CNAME links; emits each path root first. */
  #walkUp(node: NameNode, depth: number, out: string[], now: number): void {
    const path = this.#path;
    path[depth] = node;
    this.#names.touch(node);
    this.#touched.push(node);
    let walked = false;
    const parents = node.parents;
    if (parents !== null && depth + 1 < MAX_CHAIN) {
      if (Array.isArray(parents)) {
        // Most recently asserted first; a copy, as expired links are removed on the way.
        const ps = parents.slice();
        for (let i = ps.length - 1; i >= 0 && out.length < this.maxResults; i--) {
          if (this.#walkParent(ps[i]!, depth, out, now)) walked = true;
        }
      } else {
        walked = this.#walkParent(parents, depth, out, now);
      }
    }
    if (!walked) {
      for (let k = depth; k >= 0 && out.length < this.maxResults; k--) {
        const name = path[k]!.name;
        if (!out.includes(name)) out.push(name);
      }
    }
  }

  /** Walk on up from path[depth] to its parent `p`: false if that link expired (it is removed) or closes a loop. */
  #walkParent(p: NameNode, depth: number, out: string[], now: number): boolean {
    const exp = p.cnameExpiry;
    if (exp <= now) {
      this.#unlinkCname(p);
      this.#expiredLinks++;
      return false;
    }
    // A link skipped as a loop still bounds the memo: a walk after its expiry would remove it.
    if (exp < this.#memoUntil) this.#memoUntil = exp;
    const path = this.#path;
    for (let k = 0; k <= depth; k++) if (path[k] === p) return false;
    this.#walkUp(p, depth + 1, out, now);
    return true;
  }
}

function positive(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`dns cache ${what} must be a positive integer, not ${n}`);
  return n;
}
