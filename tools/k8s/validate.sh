#!/usr/bin/env bash
# Validates Kubernetes manifests offline with Kubernetes' own code (the
# release in validate/go.mod): strict decoding (unknown, duplicate and
# mistyped fields), defaulting, the API server's create validation of each
# kind and Pod Security admission; see validate/main.go. The helper is built
# from the Go module proxy once into a cache directory, then reused.
#
#   tools/k8s/validate.sh manifest.yaml...   # builds if needed, then validates
#   tools/k8s/validate.sh --build            # builds if needed, prints the binary's path
#   CONNTRAIL_K8S_VALIDATE_CACHE=/dir ...    # default ~/.cache/conntrail-k8s-validate
#
# Cold build (empty Go module and build caches) on the 2-core machine, shared:
# 5 to 9 minutes (k8s.io/kubernetes and its staging modules, ~0.5 GB of Go
# caches). Warm: instant. The binary's name carries a hash of the sources, so
# a change to go.mod, go.sum or main.go builds a new one.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="${here}/validate"
cache="${CONNTRAIL_K8S_VALIDATE_CACHE:-${HOME}/.cache/conntrail-k8s-validate}"
hash="$(cat "${src}/go.mod" "${src}/go.sum" "${src}/main.go" | sha256sum | cut -c1-16)"
bin="${cache}/k8s-validate-${hash}"

build() {
  if [[ -x "${bin}" ]]; then return 0; fi
  if ! command -v go >/dev/null; then
    if [[ -x /usr/local/go/bin/go ]]; then PATH="${PATH}:/usr/local/go/bin"; else
      echo "k8s validate: the go toolchain is not on PATH (nor /usr/local/go/bin): cannot build the validator" >&2
      exit 1
    fi
  fi
  mkdir -p "${cache}"
  exec 9>"${cache}/.build.lock"
  flock 9
  # Another build may have finished while we waited for the lock.
  if [[ -x "${bin}" ]]; then return 0; fi
  local start
  start=$(date +%s)
  echo "k8s validate: building the validator (Kubernetes $(awk '$1 == "k8s.io/kubernetes" {print $2}' "${src}/go.mod")) into ${cache}" >&2
  (cd "${src}" && GOTOOLCHAIN=local GOFLAGS="${GOFLAGS:--buildvcs=false} -mod=readonly" go build -trimpath -o "${bin}.tmp" .) >&2
  mv "${bin}.tmp" "${bin}"
  # the binaries of earlier sources
  find "${cache}" -maxdepth 1 -name 'k8s-validate-*' ! -name "$(basename "${bin}")" -delete
  echo "k8s validate: built in $(( $(date +%s) - start ))s" >&2
}

if [[ $# -eq 0 ]]; then
  echo "usage: tools/k8s/validate.sh <manifest.yaml|->... | --build" >&2
  exit 2
fi
build
if [[ "$1" == "--build" ]]; then
  echo "${bin}"
  exit 0
fi
exec "${bin}" "$@"
