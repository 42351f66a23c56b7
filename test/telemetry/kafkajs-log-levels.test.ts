// kafkajs logs every failed attempt at error level, the ones it retries too
// (on a fresh broker: "The coordinator is loading..." while the transaction
// coordinator starts). conntrail's mapping (kafkajsLineLevel): a retriable
// protocol error is debug, a connection error warn, the rest keeps its level.
// The errors are kafkajs's own (its protocol error table, a real refused
// connection), in the shapes kafkajs logs them.
import { createRequire } from 'node:module';
import path from 'node:path';
import test from 'ava';
import kafkajs from 'kafkajs';
import { kafkajsLineLevel, kafkajsLogCreator } from '../../producer/sink/kafka.ts';
import { freeLocalPort } from '../helpers/conntrail-process.ts';

const requireCjs = createRequire(import.meta.url);
const { createErrorFromCode } = requireCjs(path.join(path.dirname(requireCjs.resolve('kafkajs')), 'src', 'protocol', 'error.js')) as {
  createErrorFromCode(code: number): Error & { type: string; retriable: boolean };
};
const { ERROR, WARN, INFO } = kafkajs.logLevel;

test('retriable protocol errors are debug, whichever way kafkajs phrases the line', (t) => {
  const loading = createErrorFromCode(14); // COORDINATOR_LOAD_IN_PROGRESS (kafkajs: GROUP_LOAD_IN_PROGRESS)
  t.is(loading.type, 'GROUP_LOAD_IN_PROGRESS');
  t.true(loading.retriable);
  t.regex(loading.message, /^The coordinator is loading/);
  // network/connection.js: `Response <api>` with the error in a field
  t.is(kafkajsLineLevel(ERROR, 'Response InitProducerId(key: 22, version: 1)', loading.message), 'debug');
  t.is(kafkajsLineLevel(ERROR, 'Response FindCoordinator(key: 10, version: 2)', createErrorFromCode(15).message), 'debug'); // (GROUP_)COORDINATOR_NOT_AVAILABLE
  // producer/sendMessages.js and cluster/brokerPool.js: the error in the message
  t.is(kafkajsLineLevel(ERROR, `Failed to send messages: ${createErrorFromCode(5).message}`), 'debug'); // LEADER_NOT_AVAILABLE
  t.is(kafkajsLineLevel(ERROR, createErrorFromCode(6).message), 'debug'); // NOT_LEADER_FOR_PARTITION
  // admin: "Could not create topics" at warn, while the new controller settles
  t.is(kafkajsLineLevel(WARN, 'Could not create topics', createErrorFromCode(41).message), 'debug'); // NOT_CONTROLLER
});

test('non-retriable protocol errors and unknown errors keep their level; connection errors are warnings', (t) => {
  const denied = createErrorFromCode(29); // TOPIC_AUTHORIZATION_FAILED
  t.false(denied.retriable);
  t.is(kafkajsLineLevel(ERROR, 'Response Produce(key: 0, version: 7)', denied.message), 'error');
  t.is(kafkajsLineLevel(ERROR, `Failed to send messages: ${denied.message}`), 'error');
  t.is(kafkajsLineLevel(ERROR, 'SASL PLAIN authentication failed: Authentication failed'), 'error');
  t.is(kafkajsLineLevel(ERROR, 'boom'), 'error');
  t.is(kafkajsLineLevel(WARN, 'careful'), 'warn');
  t.is(kafkajsLineLevel(INFO, 'Starting'), 'info');
  t.is(kafkajsLineLevel(ERROR, 'Connection timeout'), 'warn');
  t.is(kafkajsLineLevel(ERROR, 'Request Produce(key: 0, version: 7) timed out'), 'warn');
  t.is(kafkajsLineLevel(ERROR, 'Failed to connect to seed broker, trying another broker from the list: Connection error: connect ECONNREFUSED 127.0.0.1:1'), 'warn');
  t.is(kafkajsLineLevel(WARN, 'Limiting retries for the idempotent producer may invalidate EoS guarantees'), 'debug');
});

test('a real refused connection: kafkajs logs it through conntrail at warn, never error', async (t) => {
  const lines: [string, string][] = [];
  const push = (level: string) => (_o: object, m?: string) => { lines.push([level, m ?? '']); };
  const logger = { debug: push('debug'), info: push('info'), warn: push('warn'), error: push('error') };
  const port = await freeLocalPort();
  const kafka = new kafkajs.Kafka({
    clientId: 'log-levels', brokers: [`127.0.0.1:${port}`], logLevel: WARN, logCreator: kafkajsLogCreator(logger, 0),
    retry: { retries: 1, initialRetryTime: 20, maxRetryTime: 50 },
  });
  const producer = kafka.producer();
  await t.throwsAsync(producer.connect());
  t.true(lines.some(([l, m]) => l === 'warn' && /^Connection error: connect ECONNREFUSED/.test(m)), JSON.stringify(lines));
  t.deepEqual(lines.filter(([l]) => l === 'error'), []);
});
