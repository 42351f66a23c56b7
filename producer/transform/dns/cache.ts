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
  /** Owners per address, CNAME parents per name, addresses per name, at most (oldest link dropped). Default 16. */
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

class NameNode {
  readonly name: string;
  readonly scope: Scope;
  prev: NameNode | null = null;
  next: NameNode | null = null;
  /** This name's CNAME target (the expiry is in target.parents). */
  cname: NameNode | null = null;
  /** Names whose CNAME is this name -> link expiry. Insertion order = assertion order. */
  parents: Map<NameNode, number> | null = null;
  /** Addresses this name has A/AAAA links to (the expiry is in addr.owners). */
  addrs: Set<AddrNode> | null = null;
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
  /** Names with an A/AAAA record to this address -> link expiry. Insertion order = assertion order. */
  readonly owners = new Map<NameNode, number>();
  /**
   * The last result (null: none, or dropped because a link it depends on
   * changed), valid for lookups before memoUntil (the earliest expiry of the
   * links it walked), and the names that walk touched, in order: a memo hit
   * touches them again, so the LRU order is the one a walk would leave.
   */
  memo: string[] | null = null;
  memoUntil = 0;
  memoTouched: NameNode[] | null = null;
  constructor(ip: string, scope: Scope) {
    this.ip = ip;
    this.scope = scope;
  }
  /** Drop the memoized result (a link it depends on changed). */
  forget(): void {
    this.memo = null;
    this.memoTouched = null;
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
    if (memo !== null && nowNs < addr.memoUntil) {
      this.#memoHits++;
      const touched = addr.memoTouched!;
      for (let i = 0; i < touched.length; i++) this.#names.touch(touched[i]!);
      if (memo.length === 0) {
        this.#expiredMisses++;
        return [];
      }
      this.#hits++;
      return memo.slice();
    }
    this.#computes++;
    const touched: NameNode[] = [];
    this.#touched = touched;
    const out = this.#compute(addr, nowNs);
    if (addr.owners.size === 0) {
      this.#removeAddr(addr);
    } else if (this.memoize) {
      addr.memo = out;
      addr.memoTouched = touched;
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
    for (const [key, s] of this.#scopes) {
      if (s.names.size === 0 && s.addrs.size === 0) throw new Error(`empty scope ${key} kept`);
      names += s.names.size;
      addrs += s.addrs.size;
      for (const n of s.names.values()) {
        if (n.cname !== null) {
          cLinks++;
          if (n.cname.parents?.has(n) !== true) throw new Error(`cname ${n.name} -> ${n.cname.name} without reverse link`);
        }
        if (n.parents) for (const p of n.parents.keys()) if (p.cname !== n) throw new Error(`parent ${p.name} of ${n.name} does not point to it`);
        if (n.addrs) for (const a of n.addrs) if (!a.owners.has(n)) throw new Error(`addr ${a.ip} of ${n.name} without owner link`);
        if (n.addrs && n.addrs.size > this.linksPerNode) throw new Error(`name ${n.name} has ${n.addrs.size} addresses`);
        if (n.parents && n.parents.size > this.linksPerNode) throw new Error(`name ${n.name} has ${n.parents.size} parents`);
      }
      for (const a of s.addrs.values()) {
        if (a.owners.size === 0) throw new Error(`address ${a.ip} without owners kept`);
        if (a.owners.size > this.linksPerNode) throw new Error(`address ${a.ip} has ${a.owners.size} owners`);
        aLinks += a.owners.size;
        for (const n of a.owners.keys()) {
          if (n.addrs?.has(a) !== true) throw new Error(`owner ${n.name} of ${a.ip} without forward link`);
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
    if (owner.cname === target && target.parents!.size === 1 && expiry >= target.parents!.get(owner)!) {
      // The sole parent re-asserted, expiring no earlier: the same results below it, and every memo
      // of them ends at or before the old expiry already. Keep them.
      target.parents!.set(owner, expiry);
      return;
    }
    // target's parents change (a new link, a new expiry or a new order): so do the results below it.
    this.#invalidateBelow(target);
    if (owner.cname !== null && owner.cname !== target) this.#unlinkCname(owner);
    if (owner.cname === null) {
      owner.cname = target;
      this.#cnameLinks++;
    }
    const parents = (target.parents ??= new Map());
    parents.delete(owner); // re-insert: most recently asserted last
    parents.set(owner, expiry);
    if (parents.size > this.linksPerNode) {
      const oldest = parents.keys().next().value!;
      this.#unlinkCname(oldest);
      this.#droppedLinks++;
    }
  }

  #unlinkCname(owner: NameNode): void {
    const target = owner.cname!;
    this.#invalidateBelow(target);
    target.parents!.delete(owner);
    owner.cname = null;
    this.#cnameLinks--;
  }

  #setOwner(addr: AddrNode, owner: NameNode, expiry: number): void {
    if (addr.owners.size === 1) {
      const old = addr.owners.get(owner);
      if (old !== undefined && expiry >= old) {
        // The sole owner re-asserted, expiring no earlier: the same results; the memo (ending at or
        // before `old`) stays. The address becomes the owner's most recent one.
        addr.owners.set(owner, expiry);
        const addrs = owner.addrs!;
        if (addrs.size > 1) {
          addrs.delete(addr);
          addrs.add(addr);
        }
        return;
      }
    }
    addr.forget();
    if (addr.owners.delete(owner)) this.#addressLinks--;
    addr.owners.set(owner, expiry);
    this.#addressLinks++;
    const addrs = (owner.addrs ??= new Set());
    addrs.delete(addr);
    addrs.add(addr);
    if (addr.owners.size > this.linksPerNode) {
      const oldest = addr.owners.keys().next().value!;
      this.#unlinkOwner(addr, oldest);
      this.#droppedLinks++;
    }
    if (addrs.size > this.linksPerNode) {
      const oldest = addrs.values().next().value!;
      this.#unlinkOwner(oldest, owner);
      this.#droppedLinks++;
      if (oldest.owners.size === 0) this.#removeAddr(oldest);
    }
  }

  #unlinkOwner(addr: AddrNode, owner: NameNode): void {
    addr.forget();
    addr.owners.delete(owner);
    owner.addrs!.delete(addr);
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
    if (n.parents !== null) {
      for (const p of n.parents.keys()) {
        p.cname = null;
        this.#cnameLinks--;
      }
      n.parents = null;
    }
    if (n.addrs !== null) {
      for (const a of n.addrs) {
        a.owners.delete(n);
        this.#addressLinks--;
        if (a.owners.size === 0) this.#removeAddr(a);
      }
      n.addrs = null;
    }
    n.scope.names.delete(n.name);
    this.#names.remove(n);
    this.#dropScopeIfEmpty(n.scope);
  }

  #removeAddr(a: AddrNode): void {
    for (const n of a.owners.keys()) n.addrs!.delete(a);
    this.#addressLinks -= a.owners.size;
    a.owners.clear();
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
      if (x.addrs !== null) for (const a of x.addrs) a.forget();
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
  /** Names touched by the walk in progress, in order (becomes the address's memoTouched). */
  #touched: NameNode[] = [];

  #compute(addr: AddrNode, now: number): string[] {
    const out: string[] = [];
    this.#memoUntil = Infinity;
    const owners = addr.owners;
    if (owners.size === 1) {
      const [owner, exp] = owners.entries().next().value!;
      if (exp <= now) this.#expireOwner(addr, owner);
      else this.#walkOwner(owner, exp, out, now);
    } else {
      // Most recently asserted first.
      const entries = Array.from(owners);
      for (let i = entries.length - 1; i >= 0 && out.length < this.maxResults; i--) {
        const [owner, exp] = entries[i]!;
        if (exp <= now) this.#expireOwner(addr, owner);
        else this.#walkOwner(owner, exp, out, now);
      }
    }
    addr.memoUntil = this.#memoUntil;
    return out;
  }

  #expireOwner(addr: AddrNode, owner: NameNode): void {
    this.#unlinkOwner(addr, owner);
    this.#expiredLinks++;
  }

  #walkOwner(owner: NameNode, exp: number, out: string[], now: number): void {
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
    if (parents !== null && parents.size > 0 && depth + 1 < MAX_CHAIN) {
      const entries = parents.size === 1 ? [parents.entries().next().value!] : Array.from(parents);
      for (let i = entries.length - 1; i >= 0 && out.length < this.maxResults; i--) {
        const [p, exp] = entries[i]!;
        if (exp <= now) {
          this.#unlinkCname(p);
          this.#expiredLinks++;
          continue;
        }
        // A link skipped as a loop still bounds the memo: a walk after its expiry would remove it.
        if (exp < this.#memoUntil) this.#memoUntil = exp;
        let loop = false;
        for (let k = 0; k <= depth; k++) if (path[k] === p) loop = true;
        if (loop) continue;
        walked = true;
        this.#walkUp(p, depth + 1, out, now);
      }
    }
    if (!walked) {
      for (let k = depth; k >= 0 && out.length < this.maxResults; k--) {
        const name = path[k]!.name;
        if (!out.includes(name)) out.push(name);
      }
    }
  }
}

function positive(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 1) throw new Error(`dns cache ${what} must be a positive integer, not ${n}`);
  return n;
}
