// One readiness probe for stack.sh: exits 0 when the brokers in argv[2]
// (host:port,... as stack.sh passes them) answer a metadata request through kafkajs' admin
// client (describeCluster + listTopics), 1 otherwise. Plain JS so any Node
// version in PATH runs it; kafkajs comes from the repo's node_modules.
import { Kafka, logLevel } from 'kafkajs';

if (!process.argv[2]) {
  console.error('usage: node stack/kafka-ready.mjs HOST:PORT[,HOST:PORT...]');
  process.exit(2);
}
const brokers = process.argv[2].split(',');
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
  console.log(`kafka-ready: cluster ${cluster.clusterId}, ${cluster.brokers.length} broker(s), controller ${cluster.controller}`);
  await admin.disconnect();
  clearTimeout(timer);
  process.exit(0);
} catch (err) {
  console.error(`kafka-ready: ${err?.message ?? err}`);
  process.exit(1);
}
