// An idle kafkajs producer arms no timers: kafkajs 2.2.4's request queue
// re-armed a 1 ms timer forever while nothing was pending (a negative delay,
// clamped), about 250 wake-ups a second per broker connection; the patch
// (patches/kafkajs+2.2.4.patch) schedules a check only when a request waits.
// Each connection also ran a 100 ms request-timeout check for its whole life
// (10 wake-ups/s per connection); patched, it runs only while a request is in
// flight.
import { createHook } from 'node:async_hooks';
import { integrationTest } from '../helpers/require.ts';
import { deleteTopics, testKafka, uniqueName } from './helpers.ts';

await integrationTest('an idle, connected kafkajs producer creates (almost) no timers and runs none', ['kafka'], async (t) => {
  // Timers are recorded from before the producer connects, so that the
  // callbacks of intervals armed at connect time are seen when they run.
  const timerIds = new Set<number>();
  let window: { created: number; ran: number } | null = null;
  const hook = createHook({
    init(id, type) {
      if (type !== 'Timeout') return;
      timerIds.add(id);
      if (window) window.created++;
    },
    before(id) { if (window && timerIds.has(id)) window.ran++; },
    destroy(id) { timerIds.delete(id); },
  }).enable();
  t.teardown(() => hook.disable());

  const topic = uniqueName('idle');
  const producer = testKafka().producer({ allowAutoTopicCreation: true });
  await producer.connect();
  t.teardown(async () => { await producer.disconnect(); await deleteTopics([topic]); });
  await producer.send({ topic, messages: [{ value: 'one' }] }); // connections to the leader and the metadata broker
  await new Promise((r) => setTimeout(r, 500));
  window = { created: 0, ran: 0 };
  await new Promise((r) => setTimeout(r, 2000));
  const { created, ran } = window;
  window = null;
  t.log(`${created} timers created, ${ran} timer callbacks run in 2 s of idle`);
  t.true(created < 20, `${created} timers in 2 s (unpatched kafkajs: hundreds)`);
  // The test's own 2 s timer runs once; unpatched, each connection's timeout check ran 20 times.
  t.true(ran <= 3, `${ran} timer callbacks in 2 s (the request-timeout check runs while nothing is in flight?)`);
});
