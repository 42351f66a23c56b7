#!/usr/bin/env bash
# npm run test:kernels: the capture, DNS and doctor tests inside each Debian
# kernel of tools/vm/kernels.conf (qemu, the host's userspace), each run
# asserting that kernel's row of test/capture/kernels.ts:
#   - booted with bpf in lsm=: the capture suite and the live results tests
#     (lsm must win, every rung forced must capture, DNS labels connects);
#   - booted without bpf in lsm=: the default-ladder tests again (fentry must
#     win, lsm must be refused).
# Then the same files on the host (its own row). Exit non-zero if any run failed.
#   bash tools/vm/test-kernels.sh [--vms-only] [KERNEL...]   (default: every kernel, then the host)
# (npm run test:all passes --vms-only: npm test has just run these files on the host.)
# CONNTRAIL_KERNEL_TESTS overrides the files run with bpf in lsm= (space-separated).
set -uo pipefail

main() {
  cd "$(dirname "${BASH_SOURCE[0]}")/../.." || return 1
  if [ "$(id -u)" -ne 0 ]; then
    echo "test-kernels: run as root (the VMs' tests load BPF programs; the host run too)" >&2
    return 1
  fi
  local ava=node_modules/.bin/ava
  [ -x "$ava" ] || { echo "test-kernels: $ava is missing: run npm ci (bash .ci/setup)" >&2; return 1; }

  # every capture test but the build script's (host tooling, nothing of the kernel's), and the live results tests
  local full
  full=${CONNTRAIL_KERNEL_TESTS:-"$(ls test/capture/*.test.ts | grep -v '/build.test.ts$' | tr '\n' ' ') test/transform/results-live.test.ts"}
  local host=1
  if [ "${1:-}" = "--vms-only" ]; then host=0; shift; fi
  local kernels=("$@")
  if [ ${#kernels[@]} -eq 0 ]; then
    mapfile -t kernels < <(awk '!/^#/ && NF { print $1 }' tools/vm/kernels.conf)
  fi
  # V8's code cache, shared by the VMs of this host: the tests' Node processes start several
  # times faster once it is warm (9p and an emulated CPU make compiling the slow part).
  local cache=${CONNTRAIL_VM_CACHE:-/var/cache/conntrail/vm}/node-compile-cache
  mkdir -p "$cache"

  failed=()
  local k common
  for k in "${kernels[@]}"; do
    # the project's Node 24 (node_modules/.bin/node, the `node` devDependency) first, as npm scripts have it
    common=(--kernel "$k" --env "CONNTRAIL_KERNEL=debian-$k" --env CONNTRAIL_REQUIRE_INTEGRATION=1 --timeout 1800
            --env "PATH=$PWD/node_modules/.bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            --env "NODE_COMPILE_CACHE=$cache" --share "$cache")
    # shellcheck disable=SC2086 # the file list is a glob on purpose
    step "debian-$k, lsm=...,bpf" bash tools/vm/run.sh "${common[@]}" --lsm bpf -- "$ava" $full
    step "debian-$k, bpf not in lsm=" bash tools/vm/run.sh "${common[@]}" --lsm nobpf -- \
      "$ava" test/capture/rungs.test.ts --match '*default ladder*' --match 'lsm, forced*'
  done
  if [ "$host" -eq 1 ]; then
    # shellcheck disable=SC2086
    step "host $(uname -r)" env CONNTRAIL_REQUIRE_INTEGRATION=1 "$ava" $full
  fi

  if [ ${#failed[@]} -gt 0 ]; then
    printf 'test-kernels: FAILED: %s\n' "${failed[@]}" >&2
    return 1
  fi
  echo "test-kernels: every kernel passed"
}

step() { # step <label> <command...>
  local label=$1; shift
  echo "=== test-kernels: $label"
  local t0=$SECONDS
  "$@"
  local rc=$?
  echo "=== test-kernels: $label: exit $rc in $((SECONDS - t0)) s"
  [ "$rc" -eq 0 ] || failed+=("$label (exit $rc)")
}

# all of it parsed before it runs: editing this file during a run cannot derail it
main "$@"
exit $?
