import test from 'ava';
import { newEventId } from '../../producer/transform/event-id.ts';

const V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

test('event ids: v4 UUID text (version and variant bits), unique over many batches', (t) => {
  const n = 200_000; // ~390 batches of 512
  const seen = new Set<string>();
  const variants = new Set<string>();
  for (let i = 0; i < n; i++) {
    const id = newEventId();
    if (!V4.test(id)) t.fail(`not a v4 UUID: ${id}`);
    variants.add(id[19]!);
    seen.add(id);
  }
  t.is(seen.size, n);
  t.deepEqual([...variants].sort(), ['8', '9', 'a', 'b']);
});

test('event ids: the random hex digits are uniform (chi-square, 15 degrees of freedom)', (t) => {
  const counts = new Array<number>(16).fill(0);
  const n = 20_000;
  for (let i = 0; i < n; i++) {
    const id = newEventId().replaceAll('-', '');
    for (let k = 0; k < 32; k++) if (k !== 12 && k !== 16) counts[parseInt(id[k]!, 16)]!++;
  }
  const total = n * 30;
  const expected = total / 16;
  const chi2 = counts.reduce((s, c) => s + ((c - expected) ** 2) / expected, 0);
  t.true(chi2 < 50, `chi2 ${chi2.toFixed(1)}: ${counts.join(',')}`); // p < 1e-5 for 15 dof
});

test('event ids: consecutive ids differ in their random bits, not in a counter', (t) => {
  const a = newEventId();
  const b = newEventId();
  let differing = 0;
  for (let k = 0; k < 36; k++) if (a[k] !== b[k]) differing++;
  t.true(differing > 10, `${a} vs ${b}`);
});
