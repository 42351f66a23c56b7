#!/bin/sh
# /usr/bin/conntrail: the CLI on the package's own Node.js runtime.
# --max-semi-space-size=4: V8's young generation grows to 64 MiB under load by
# default; 4 MiB semi-spaces kept RSS at 10k connects/s at 150 MiB instead of
# 172, at the same CPU (npm run bench, footprint section, which starts the app
# with the flags of this line).
exec /opt/conntrail/node/bin/node --max-semi-space-size=4 /opt/conntrail/producer/cli.js "$@"
