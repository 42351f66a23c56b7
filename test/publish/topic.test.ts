// kafka.createTopic: a missing topic is created (partitions, replication) or is a TopicMissingError.
import { integrationTest } from '../helpers/require.ts';
import { KafkaSink } from '../../producer/sink/sink.ts';
import { TopicMissingError } from '../../producer/sink/errors.ts';
import { EcsJsonEncoder } from '../../producer/encode/ecs.ts';
import { deleteTopics, stackConfig, uniqueName, withAdmin } from './helpers.ts';

await integrationTest('a missing topic with kafka.createTopic=false is a TopicMissingError', ['kafka'], async (t) => {
  const topic = uniqueName('missing');
  const cfg = stackConfig(topic, { kafka: { createTopic: false } });
  const sink = new KafkaSink(cfg, new EcsJsonEncoder());
  const err = await t.throwsAsync(sink.start(), { instanceOf: TopicMissingError });
  t.is(err?.topic, topic);
  t.regex(err?.message ?? '', /kafka\.createTopic is false/);
  t.false((await withAdmin((a) => a.listTopics())).includes(topic), 'not created behind our back');
  await sink.stop(10);
});

await integrationTest('a missing topic with kafka.createTopic=true is created with topicPartitions; an existing one is used as is', ['kafka'], async (t) => {
  const topic = uniqueName('create');
  try {
    const sink = new KafkaSink(stackConfig(topic, { kafka: { createTopic: true, topicPartitions: 2, topicReplicationFactor: 1 } }), new EcsJsonEncoder());
    await sink.start();
    await sink.stop(100);
    const meta = await withAdmin((a) => a.fetchTopicMetadata({ topics: [topic] }));
    t.is(meta.topics[0]?.partitions.length, 2);
    t.is(meta.topics[0]?.partitions[0]?.replicas.length, 1);
    const again = new KafkaSink(stackConfig(topic, { kafka: { createTopic: false } }), new EcsJsonEncoder());
    await t.notThrowsAsync(again.start());
    await again.stop(100);
  } finally {
    await deleteTopics([topic]);
  }
});
