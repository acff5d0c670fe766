#!/usr/bin/env bash
# bench-credproc.sh — whole-process benchmark of `rolehop credential-process`.
#
#   scripts/bench-credproc.sh [OUT_DIR]
#
# 1. warm cache: `rolehop credential-process --profile prod` (one cache file
#    read, no STS call) next to aws-vault v7.2.0's fastest equivalent,
#    `aws-vault export --format=json --no-session base` (file keyring backend,
#    no STS call), in one hyperfine run; peak RSS of each via /usr/bin/time -v.
# 2. cold cache (every run empties it): rolehop makes one AssumeRole call to a
#    local MinIO STS, next to that same AssumeRole made by curl --aws-sigv4 (the
#    STS latency plus a process start): the difference is rolehop's overhead.
#
# Needs: go, hyperfine, curl, /usr/bin/time and the peers from
# scripts/install-peers.sh (minio, mc). aws-vault is installed with
# `go install github.com/99designs/aws-vault/v7@v7.2.0` into $AWS_VAULT_DIR
# (default /tmp/aws-vault-v7.2.0) when missing. Results (markdown and JSON)
# go to OUT_DIR (default a temporary folder, printed at the end).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS_BIN=${ROLEHOP_PEERS_DIR:-$HOME/.cache/rolehop-peers}/bin
AWS_VAULT_DIR=${AWS_VAULT_DIR:-/tmp/aws-vault-v7.2.0}
WORK=$(mktemp -d /tmp/rolehop-bench.XXXXXX)
OUT=${1:-$WORK/results}
mkdir -p "$OUT"

say() { echo "bench-credproc: $*" >&2; }
MINIO_PID=
cleanup() {
  [ -n "$MINIO_PID" ] && kill "$MINIO_PID" 2>/dev/null && wait "$MINIO_PID" 2>/dev/null
  rm -rf "$WORK/data" "$WORK/mc"
}
trap cleanup EXIT

for tool in go hyperfine curl /usr/bin/time "$PEERS_BIN/minio" "$PEERS_BIN/mc"; do
  command -v "$tool" >/dev/null || { say "missing $tool: run scripts/install-peers.sh" ; exit 1; }
done

say "building rolehop"
(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$WORK/rolehop" ./cmd/rolehop)  # as `make build`
ROLEHOP=$WORK/rolehop

AWS_VAULT=$AWS_VAULT_DIR/aws-vault
if [ ! -x "$AWS_VAULT" ]; then
  say "installing aws-vault v7.2.0 into $AWS_VAULT_DIR"
  mkdir -p "$AWS_VAULT_DIR"
  # `go install ...@v7.2.0` needs the module's version list, which some
  # proxies refuse (403); building it from a throwaway module does not.
  if ! (cd /tmp && GOBIN=$AWS_VAULT_DIR go install github.com/99designs/aws-vault/v7@v7.2.0); then
    tmpmod=$(mktemp -d)
    (cd "$tmpmod" && go mod init avbuild >/dev/null 2>&1 &&
      go get github.com/99designs/aws-vault/v7@v7.2.0 &&
      go build -ldflags "-X main.Version=v7.2.0" -o "$AWS_VAULT" github.com/99designs/aws-vault/v7)
    rm -rf "$tmpmod"
  fi
fi

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# --- MinIO: STS (AssumeRole) on loopback ---------------------------------------
PORT=$(free_port); CPORT=$(free_port)
EP=http://127.0.0.1:$PORT
ROOT_USER=bench-root; ROOT_PASS=$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')
MINIO_ROOT_USER=$ROOT_USER MINIO_ROOT_PASSWORD=$ROOT_PASS MINIO_BROWSER=off MINIO_UPDATE=off \
  "$PEERS_BIN/minio" server "$WORK/data" --address "127.0.0.1:$PORT" --console-address "127.0.0.1:$CPORT" \
  >"$WORK/minio.log" 2>&1 &
MINIO_PID=$!
for _ in $(seq 100); do curl -fs "$EP/minio/health/live" >/dev/null && break; sleep 0.1; done
curl -fs "$EP/minio/health/live" >/dev/null || { say "MinIO did not start: $WORK/minio.log"; exit 1; }
MC=("$PEERS_BIN/mc" --config-dir "$WORK/mc" --quiet)
"${MC[@]}" alias set bench "$EP" "$ROOT_USER" "$ROOT_PASS" >/dev/null
USER_KEY=bench-user; USER_SECRET=bench-user-secret-1
"${MC[@]}" admin user add bench "$USER_KEY" "$USER_SECRET" >/dev/null
"${MC[@]}" admin policy attach bench readwrite --user "$USER_KEY" >/dev/null

# --- the AWS config both tools read ------------------------------------------------
cat >"$WORK/config" <<EOF
[profile base]
aws_access_key_id = $USER_KEY
aws_secret_access_key = $USER_SECRET
region = us-east-1

[profile prod]
credential_process = $ROLEHOP credential-process --profile prod
rolehop_base = base
rolehop_role_arn = arn:aws:iam::111111111111:role/Any
region = us-east-1
EOF
: >"$WORK/credentials"
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_ENDPOINT_URL
export AWS_CONFIG_FILE=$WORK/config AWS_SHARED_CREDENTIALS_FILE=$WORK/credentials
export AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL_STS=$EP XDG_CACHE_HOME=$WORK/cache
export HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1,localhost

# aws-vault's file keyring holds the base user's keys.
export AWS_VAULT_BACKEND=file AWS_VAULT_FILE_PASSPHRASE=bench-passphrase AWS_VAULT_FILE_DIR=$WORK/vault
AWS_ACCESS_KEY_ID=$USER_KEY AWS_SECRET_ACCESS_KEY=$USER_SECRET "$AWS_VAULT" add base --env >/dev/null 2>&1
"$AWS_VAULT" export --format=json --no-session base >/dev/null

# Warm rolehop's cache (one AssumeRole) and check the output.
"$ROLEHOP" credential-process --profile prod | python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["Version"]==1 and d["SessionToken"]'

say "warm cache: rolehop vs aws-vault"
hyperfine -N --warmup 5 --runs 300 \
  --export-markdown "$OUT/warm.md" --export-json "$OUT/warm.json" \
  -n "rolehop credential-process (warm cache)" "$ROLEHOP credential-process --profile prod" \
  -n "aws-vault export --no-session (file backend)" "$AWS_VAULT export --format=json --no-session base"

rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {print $2}'; }
{
  echo "| command | peak RSS (KiB) |"
  echo "|---|---|"
  echo "| rolehop credential-process (warm cache) | $(rss "$ROLEHOP" credential-process --profile prod) |"
  echo "| aws-vault export --no-session (file backend) | $(rss "$AWS_VAULT" export --format=json --no-session base) |"
} | tee "$OUT/rss.md"

say "cold cache: rolehop vs the bare AssumeRole (curl --aws-sigv4)"
hyperfine -N --warmup 3 --runs 100 \
  --prepare "rm -rf $XDG_CACHE_HOME/rolehop" \
  --export-markdown "$OUT/cold.md" --export-json "$OUT/cold.json" \
  -n "rolehop credential-process (cold cache, 1 AssumeRole)" "$ROLEHOP credential-process --profile prod" \
  -n "curl --aws-sigv4 AssumeRole (STS latency + process)" \
  "curl -s -o /dev/null --noproxy 127.0.0.1 --aws-sigv4 aws:amz:us-east-1:sts --user $USER_KEY:$USER_SECRET --data Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::111111111111:role/Any&RoleSessionName=bench $EP/"

say "results in $OUT"
cat "$OUT/warm.md" "$OUT/rss.md" "$OUT/cold.md"
python3 - "$OUT/warm.json" "$OUT/cold.json" <<'PY'
import json, sys
print("\n| command | median [ms] |\n|---|---:|")
for f in sys.argv[1:]:
    for r in json.load(open(f))["results"]:
        print(f"| {r['command']} | {r['median'] * 1000:.1f} |")
PY
