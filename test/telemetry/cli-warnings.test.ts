// No warning spam from the CLI: TimeoutNegativeWarning (kafkajs's negative
// timers) is never shown, any other warning once however often it is emitted.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import test from 'ava';

const PRELOAD = fileURLToPath(new URL('./fixtures/emit-warnings.ts', import.meta.url));

test('warnings: TimeoutNegativeWarning hidden, the others once each', async (t) => {
  const stderr = await new Promise<string>((resolve, reject) => {
    execFile(process.execPath, ['--import', PRELOAD, 'producer/cli.ts', '--help'], { timeout: 30_000 }, (err, _out, errText) => {
      if (err) reject(err);
      else resolve(errText);
    });
  });
  t.deepEqual(stderr.split('\n').filter((l) => l !== ''), [
    'conntrail: TimeoutOverflowWarning: 1e15 does not fit into a 32-bit signed integer. Timeout duration was set to 1.',
    'conntrail: DeprecationWarning: something else',
  ]);
});
