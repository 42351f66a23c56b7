// User and group names for the uids and gids of connect records, from the
// host's account database files (/etc/passwd, /etc/group; under Kubernetes the
// host's, mounted into the pod). Read when first needed and again when a file
// changed, checked at most every `recheckMs` and only while lookups happen:
// nothing runs on an idle host. Accounts that live only in a directory service
// (LDAP, sssd) are not in the files: their names are null, counted.
import { readFileSync, statSync } from 'node:fs';

export interface AccountsOptions {
  /** Default /etc/passwd (enrich.accounts.passwdFile); '': no user names. */
  passwdFile?: string;
  /** Default /etc/group (enrich.accounts.groupFile); '': no group names. */
  groupFile?: string;
  /** Least time between two checks of the files' mtimes, ms. Default 10000. */
  recheckMs?: number;
  /** Clock (tests). */
  now?: () => number;
}

/** id -> name from a passwd- or group-format file (name:password:id:...); later duplicates do not override earlier ones, as getpwuid. */
export function parseIdFile(text: string): Map<number, string> {
  const out = new Map<number, string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const f = line.split(':');
    const id = Number(f[2]);
    const name = f[0];
    if (name && f.length >= 3 && f[2] !== '' && Number.isInteger(id) && id >= 0 && !out.has(id)) out.set(id, name);
  }
  return out;
}

class IdFile {
  readonly path: string;
  names = new Map<number, string>();
  #mtimeMs = -1;
  #size = -1;
  /** The file could not be read at the last check. */
  unreadable = false;

  constructor(path: string) {
    this.path = path;
  }

  refresh(): void {
    if (this.path === '') return;
    let st;
    try {
      st = statSync(this.path);
    } catch {
      this.names = new Map();
      this.unreadable = true;
      this.#mtimeMs = this.#size = -1;
      return;
    }
    if (st.mtimeMs === this.#mtimeMs && st.size === this.#size) return;
    try {
      this.names = parseIdFile(readFileSync(this.path, 'utf8'));
      this.unreadable = false;
    } catch {
      this.names = new Map();
      this.unreadable = true;
    }
    this.#mtimeMs = st.mtimeMs;
    this.#size = st.size;
  }
}

export class Accounts {
  readonly #users: IdFile;
  readonly #groups: IdFile;
  readonly #recheckMs: number;
  readonly #now: () => number;
  #checkedAt = -Infinity;

  constructor(opts: AccountsOptions = {}) {
    this.#users = new IdFile(opts.passwdFile ?? '/etc/passwd');
    this.#groups = new IdFile(opts.groupFile ?? '/etc/group');
    this.#recheckMs = opts.recheckMs ?? 10_000;
    this.#now = opts.now ?? Date.now;
  }

  /** User name of `uid`, null when the file has none. */
  userName(uid: number): string | null {
    this.#maybeRefresh();
    return this.#users.names.get(uid) ?? null;
  }

  /** Group name of `gid`, null when the file has none. */
  groupName(gid: number): string | null {
    this.#maybeRefresh();
    return this.#groups.names.get(gid) ?? null;
  }

  /** Files that could not be read at the last check (for the doctor and the stats). */
  unreadableFiles(): string[] {
    return [this.#users, this.#groups].filter((f) => f.unreadable).map((f) => f.path);
  }

  #maybeRefresh(): void {
    const now = this.#now();
    if (now - this.#checkedAt < this.#recheckMs) return;
    this.#checkedAt = now;
    this.#users.refresh();
    this.#groups.refresh();
  }
}
