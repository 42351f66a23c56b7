// User and group names from account files (producer/transform/accounts.ts):
// parsed as getpwuid reads them, re-read when a file changes (checked at most
// every recheckMs), null for ids they lack and for files that cannot be read.
import test from 'ava';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Accounts, parseIdFile } from '../../producer/transform/accounts.ts';

test('parseIdFile: name by id; comments, blank and broken lines skipped; the first of two entries wins', (t) => {
  const text = 'root:x:0:0:root:/root:/bin/bash\n# comment\n\nalice:x:1000:1000::/home/alice:/bin/sh\nbroken\nnoid:x::1\nneg:x:-1:1\nalias:x:1000:1000::/:/bin/sh\n+::::::\n';
  t.deepEqual([...parseIdFile(text)], [[0, 'root'], [1000, 'alice']]);
});

test('names follow the files: re-read after a change once recheckMs passed; unknown ids and unreadable files give null', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'conntrail-accounts-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const passwd = join(dir, 'passwd');
  const group = join(dir, 'group');
  writeFileSync(passwd, 'root:x:0:0::/root:/bin/sh\n');
  writeFileSync(group, 'root:x:0:\nstaff:x:50:\n');
  let now = 0;
  const a = new Accounts({ passwdFile: passwd, groupFile: group, recheckMs: 1000, now: () => now });
  t.is(a.userName(0), 'root');
  t.is(a.userName(1000), null);
  t.is(a.groupName(50), 'staff');
  writeFileSync(passwd, 'root:x:0:0::/root:/bin/sh\nbob:x:1000:1000::/home/bob:/bin/sh\n');
  utimesSync(passwd, new Date(), new Date(Date.now() + 5000));
  now = 500;
  t.is(a.userName(1000), null, 'not checked again before recheckMs');
  now = 1500;
  t.is(a.userName(1000), 'bob', 'the change is seen');
  rmSync(group);
  now = 3000;
  t.is(a.groupName(50), null);
  t.deepEqual(a.unreadableFiles(), [group]);
  const none = new Accounts({ passwdFile: '', groupFile: '' });
  t.is(none.userName(0), null, 'empty path: no names');
  t.deepEqual(none.unreadableFiles(), []);
});
