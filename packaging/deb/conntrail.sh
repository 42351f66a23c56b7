#!/bin/sh
# /usr/bin/conntrail: the CLI on the package's own Node.js runtime.
exec /opt/conntrail/node/bin/node /opt/conntrail/producer/cli.js "$@"
