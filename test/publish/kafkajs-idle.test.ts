// An idle kafkajs producer arms no timers: kafkajs 2.2.4's request queue
// re-armed a 1 ms timer forever while nothing was pending (a negative delay,
// clamped), about 250 wake-ups a second per broker connection; the patch
// (patches/kafkajs+2.2.4.patch) schedules a check only when a request waits.
import { createHook } from 'node:async_hooks';
import { integrationTest } from '../helpers/require.ts';
import { deleteTopics, testKafka, uniqueName } from './helpers.ts';

await integrationTest('an idle, connected kafkajs producer creates (almost) no timers', ['kafka'], async (t) => {
  const topic = uniqueName('idle');
  const producer = testKafka().producer({ allowAutoTopicCreation: true });
  await producer.connect();
  t.teardown(async () => { await producer.disconnect(); await deleteTopics([topic]); });
  await producer.send({ topic, messages: [{ value: 'one' }] }); // connections to the leader and the metadata broker
  await new Promise((r) => setTimeout(r, 500));
  let timeouts = 0;
  const hook = createHook({ init(_id, type) { if (type === 'Timeout') timeouts++; } }).enable();
  await new Promise((r) => setTimeout(r, 2000));
  hook.disable();
  t.log(`${timeouts} timers created in 2 s of idle`);
  t.true(timeouts < 20, `${timeouts} timers in 2 s (unpatched kafkajs: hundreds)`);
});
