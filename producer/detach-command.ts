// `conntrail detach`: removes the capture capture.persist pinned (capture.pinPath),
// so the kernel detaches and frees it once no conntrail holds it. The package's
// prerm runs it on removal; an upgrade keeps the pins (that is their point).
import { DEFAULT_PIN_PATH, PinError, removePinned } from 'bpf-native-loader';
import { constants as osConstants } from 'node:os';
import type { ConntrailConfig } from './config/load.ts';

/** Exit code: 0 when removed or nothing was pinned, 1 when it could not be removed (one line on stderr). */
export function detachCommand(cfg: ConntrailConfig, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): number {
  const pinPath = cfg.capture.pinPath || DEFAULT_PIN_PATH;
  try {
    const r = removePinned(pinPath);
    if (r.nothing) {
      out.write(`conntrail detach: nothing pinned at ${pinPath}\n`);
      return 0;
    }
    const unread = !r.counted ? '; what its ring held could not be read' : r.records > 0 ? `; ${r.records} records left unread in its ring were dropped` : '';
    out.write(`conntrail detach: removed the capture pinned at ${pinPath} (${r.removed} pins)${unread}\n`);
    return 0;
  } catch (e) {
    if (!(e instanceof PinError)) throw e;
    const denied = e.errno === osConstants.errno.EACCES || e.errno === osConstants.errno.EPERM;
    err.write(`conntrail: detach: ${e.message}${denied ? ' (run as root)' : ''}\n`);
    return 1;
  }
}
