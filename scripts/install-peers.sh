#!/usr/bin/env bash
# install-peers.sh — install every peer rolehop's tests talk to; idempotent.
#
#   Debian packages: simplesamlphp php-cli php-xml php-mbstring xmlsec1
#                    redis-server awscli python3-boto3 curl hyperfine tmux fish
#                    chromium (headless, for the browser IdP's tests; as
#                    root it runs only with --no-sandbox, which chromedp adds;
#                    rolehop starts it with --disable-background-networking
#                    --disable-component-update --disable-sync --no-first-run
#                    --disable-quic so the closed network does not stall it)
#                    bash-completion (the completion test loads rolehop's
#                    bash script with it)
#                    wrk (the broker's load figures, scripts/bench-broker.sh)
#                    (apt-get runs only when one of them is missing)
#   Go binaries:     minio, mc, staticcheck at pinned versions, built with
#                    `go install` into $ROLEHOP_PEERS_DIR/bin (default
#                    ~/.cache/rolehop-peers/bin); skipped when that version is
#                    already there. The first MinIO build takes ~5 minutes.
#
# The peers are not started here: tests start their own through
# internal/testpeer, on free loopback ports.
set -euo pipefail

PEERS_DIR=${ROLEHOP_PEERS_DIR:-$HOME/.cache/rolehop-peers}
BIN=$PEERS_DIR/bin
MINIO_VERSION=v0.0.0-20260212201848-7aac2a2c5b7c
MC_VERSION=v0.0.0-20250313080218-cf909e1063a9
STATICCHECK_VERSION=v0.8.2
APT_PACKAGES=(simplesamlphp php-cli php-xml php-mbstring xmlsec1 redis-server awscli python3-boto3 curl hyperfine tmux fish chromium bash-completion wrk)

say() { echo "install-peers: $*"; }

# --- Debian packages ---------------------------------------------------------
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  say "apt: all ${#APT_PACKAGES[@]} packages present"
else
  SUDO=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { say "apt: missing ${missing[*]}; run this script as root or install sudo" >&2; exit 1; }
    SUDO=(sudo)
  fi
  say "apt: installing ${missing[*]}"
  "${SUDO[@]}" apt-get update -q
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${APT_PACKAGES[@]}"
fi

# --- Go binaries ---------------------------------------------------------------
command -v go >/dev/null || { say "go not found on PATH: install Go 1.26 (https://go.dev/dl/) first" >&2; exit 1; }
mkdir -p "$BIN"

# install NAME MODULE PACKAGE VERSION: go install PACKAGE@VERSION into $BIN
# unless $BIN/NAME.VERSION already names MODULE@VERSION.
install_bin() {
  local name=$1 module=$2 pkg=$3 version=$4
  local stamp="$BIN/$name.VERSION" want="$module@$version"
  if [ -x "$BIN/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
    say "$name: $version already in $BIN"
    return
  fi
  # A binary built earlier without a stamp: trust its embedded build info.
  if [ -x "$BIN/$name" ] && go version -m "$BIN/$name" 2>/dev/null | grep -qE "^[[:space:]]+mod[[:space:]]+$module[[:space:]]+$version([[:space:]]|$)"; then
    echo "$want" >"$stamp"
    say "$name: $version already in $BIN (stamped)"
    return
  fi
  say "$name: go install $pkg@$version (this can take minutes)"
  local start=$SECONDS
  (cd "$BIN" && GOBIN="$BIN" GOFLAGS=-buildvcs=false go install "$pkg@$version")
  echo "$want" >"$stamp"
  say "$name: built in $((SECONDS - start))s"
}

install_bin minio github.com/minio/minio github.com/minio/minio "$MINIO_VERSION"
install_bin mc github.com/minio/mc github.com/minio/mc "$MC_VERSION"
install_bin staticcheck honnef.co/go/tools honnef.co/go/tools/cmd/staticcheck "$STATICCHECK_VERSION"
say "done: peers in $BIN"
