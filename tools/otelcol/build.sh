#!/usr/bin/env bash
# Builds the OpenTelemetry Collector used by conntrail's telemetry tests
# (core components: OTLP receiver, debug/otlp/otlphttp exporters, batch and
# memory_limiter processors) with the official builder (ocb), from the Go
# module proxy only, into a cache directory; does nothing when it is there.
#
#   tools/otelcol/build.sh            # prints the binary's path on stdout
#   CONNTRAIL_OTELCOL_CACHE=/dir tools/otelcol/build.sh   # default ~/.cache/conntrail-otelcol
#
# Cold build (empty Go module and build caches) on the 2-core machine: 2 min 5 s
# (module downloads + compile, about 1.3 GB of Go caches). Warm: instant.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version="0.165.0"
cache="${CONNTRAIL_OTELCOL_CACHE:-${HOME}/.cache/conntrail-otelcol}"
bin="${cache}/otelcorecol-${version}"

if [[ -x "${bin}" ]] && "${bin}" --version >/dev/null 2>&1; then
  echo "${bin}"
  exit 0
fi

command -v go >/dev/null || { echo "otelcol build: the go toolchain is not on PATH" >&2; exit 1; }
mkdir -p "${cache}"
exec 9>"${cache}/.build.lock"
flock 9
# Another build may have finished while we waited for the lock.
if [[ -x "${bin}" ]] && "${bin}" --version >/dev/null 2>&1; then
  echo "${bin}"
  exit 0
fi

start=$(date +%s)
export GOFLAGS="${GOFLAGS:--buildvcs=false}"
echo "otelcol build: installing the builder (ocb) v${version}" >&2
GOBIN="${cache}/bin" go install "go.opentelemetry.io/collector/cmd/builder@v${version}" >&2

work="${cache}/build-${version}"
rm -rf "${work}"
mkdir -p "${work}/src"
sed "s|output_path: OUTPUT_PATH.*|output_path: ${work}/src|" "${here}/builder-config.yaml" >"${work}/builder-config.yaml"
echo "otelcol build: generating and compiling the collector in ${work}" >&2
"${cache}/bin/builder" --config "${work}/builder-config.yaml" >&2
install -m 0755 "${work}/src/otelcorecol" "${bin}.tmp"
mv "${bin}.tmp" "${bin}"
rm -rf "${work}"
echo "otelcol build: done in $(( $(date +%s) - start ))s" >&2
echo "${bin}"
