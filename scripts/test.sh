#!/usr/bin/env bash
# test.sh — the one test command (`make test`, and CI through .ci/run):
# installs the peers, then gofmt, go vet, staticcheck and go test -race.
# Tests start their own peers (internal/testpeer). With CI=true a missing
# peer fails the run instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

PEERS_DIR=${ROLEHOP_PEERS_DIR:-$HOME/.cache/rolehop-peers}
timings=()
step() {
  local name=$1; shift
  echo "==> $name"
  local start=${EPOCHREALTIME/./} ms rc=0
  "$@" || rc=$?
  ms=$(( (${EPOCHREALTIME/./} - start) / 1000 ))
  timings+=("$(printf '%-14s %4d.%01ds%s' "$name" $((ms / 1000)) $((ms % 1000 / 100)) "$([ $rc -eq 0 ] || echo "  FAILED (exit $rc)")")")
  if [ $rc -ne 0 ]; then
    echo "==> $name failed (exit $rc)" >&2
    exit $rc
  fi
}

check_gofmt() {
  local files
  files=$(gofmt -l .)
  if [ -n "$files" ]; then
    echo "gofmt: these files need formatting (run gofmt -w on them):" >&2
    echo "$files" >&2
    return 1
  fi
}

report() {
  echo "==> step timings"
  printf '    %s\n' "${timings[@]}"
}
trap report EXIT

step install-peers scripts/install-peers.sh
step gofmt check_gofmt
step go-vet go vet ./...
step staticcheck "$PEERS_DIR/bin/staticcheck" ./...
# rolehop's users are on macOS and Windows too: the binary must build there.
cross_build() {
  CGO_ENABLED=0 GOOS=darwin GOARCH=arm64 go build ./cmd/... &&
    CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go build ./cmd/...
}
step cross-build cross_build
# Screenshots the browser tests take (what the user sees) are kept here.
export ROLEHOP_ARTIFACTS=${ROLEHOP_ARTIFACTS:-$PWD/artifacts}
step go-test go test -race -count=1 -timeout 25m ./...
echo "==> all checks passed"
