#!/bin/sh
# /usr/bin/conntrail: the CLI on the package's own Node.js runtime.
# MALLOC_ARENA_MAX=2: glibc gives each thread that mallocs an arena of its own
# (up to 8 per core), and the freed memory in them stays in RSS; two arenas kept
# the idle agent at 116 MiB instead of 136 (at 1 connect/s; npm run bench,
# footprint section, which starts the app with this line's environment).
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}"
# --max-semi-space-size=4: V8's young generation grows to 64 MiB under load by
# default; 4 MiB semi-spaces kept RSS at 10k connects/s at 150 MiB instead of
# 172, at the same CPU (npm run bench, footprint section, which starts the app
# with the flags of this line).
exec /opt/conntrail/node/bin/node --max-semi-space-size=4 /opt/conntrail/producer/cli.js "$@"
