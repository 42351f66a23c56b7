// One readiness probe for stack.sh: exits 0 when the brokers in argv[2]
// (host:port,... as stack.sh passes them) answer a metadata request through kafkajs' admin
// client (describeCluster + listTopics) listing at least argv[3] brokers (default 1; a
// cluster is ready when every node registered), 1 otherwise. Plain JS so any Node
// version in PATH runs it; kafkajs comes from the repo's node_modules.
import { Kafka, logLevel } from 'kafkajs';

if (!process.argv[2]) {
  console.error('usage: node stack/kafka-ready.mjs HOST:PORT[,HOST:PORT...] [BROKERS]');
  process.exit(2);
}
const brokers = process.argv[2].split(',');
const want = Number(process.argv[3] ?? 1);
const kafka = new Kafka({
  clientId: 'conntrail-stack-probe',
  brokers,
  connectionTimeout: 2000,
  requestTimeout: 4000,
  retry: { retries: 0 },
  logLevel: logLevel.NOTHING,
});
const admin = kafka.admin();
const timer = setTimeout(() => {
  console.error('kafka-ready: timed out');
  process.exit(1);
}, 8000);
try {
  await admin.connect();
  const cluster = await admin.describeCluster();
  await admin.listTopics();
  if (!cluster.brokers?.length) throw new Error('no brokers in metadata');
  if (cluster.brokers.length < want) throw new Error(`${cluster.brokers.length} of ${want} brokers registered`);
  console.log(`kafka-ready: cluster ${cluster.clusterId}, ${cluster.brokers.length} broker(s), controller ${cluster.controller}`);
  await admin.disconnect();
  clearTimeout(timer);
  process.exit(0);
} catch (err) {
  console.error(`kafka-ready: ${err?.message ?? err}`);
  process.exit(1);
}
