#!/usr/bin/env bash
# bench-credproc.sh — whole-process benchmarks of credential_process
# (issue 16), every tool in the same hyperfine runs, repeated.
#
#   scripts/bench-credproc.sh [OUT_DIR]
#
# 1. warm cache (no STS call), a 10-profile AWS config:
#    rolehop-credential-process --profile prod (the fast program),
#    rolehop credential-process --profile prod (the full CLI),
#    aws-vault v7.2.0 export --format=json --no-session (file keyring),
#    granted credential-process (file keyring; when it can be built),
#    a static Go hello world (the floor: a bare Go process start);
# 2. the same at 10 / 1,000 / 10,000 / 100,000 profiles in the AWS config;
# 3. cold cache (emptied before every run): one AssumeRole to a local MinIO,
#    next to that AssumeRole made by curl --aws-sigv4;
# 4. peak RSS of each (/usr/bin/time -v).
#
# Each comparison runs REPS times (default 3); the tables give the median of
# the repetitions' medians and the spread (lowest..highest median). Run it
# on a quiet machine (check `uptime`) and again until the repetitions agree.
#
# Environment: REPS, RUNS (warm runs, default 300), SIZES (default
# "10 1000 10000 100000"), AWS_VAULT_DIR, GRANTED (a granted binary to use),
# GRANTED_MODULE / GRANTED_VERSION (to build one; default
# github.com/common-fate/granted v0.38.0, then github.com/fwdcloudsec/granted).
#
# Needs: go, hyperfine, curl, python3, /usr/bin/time and the peers from
# scripts/install-peers.sh (minio, mc). Results (markdown, JSON, logs) go to
# OUT_DIR (default a temporary folder, printed at the end).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS_BIN=${ROLEHOP_PEERS_DIR:-$HOME/.cache/rolehop-peers}/bin
AWS_VAULT_DIR=${AWS_VAULT_DIR:-$HOME/.cache/rolehop-bench/aws-vault-v7.2.0}
GRANTED_DIR=${GRANTED_DIR:-$HOME/.cache/rolehop-bench/granted}
REPS=${REPS:-3}
RUNS=${RUNS:-300}
SIZES=${SIZES:-"10 1000 10000 100000"}
WORK=$(mktemp -d /tmp/rolehop-bench.XXXXXX)
OUT=${1:-$WORK/results}
mkdir -p "$OUT"

say() { echo "bench-credproc: $*" >&2; }
MINIO_PID=
cleanup() {
  if [ -n "$MINIO_PID" ]; then kill "$MINIO_PID" 2>/dev/null || true; wait "$MINIO_PID" 2>/dev/null || true; fi
  rm -rf "$WORK/data" "$WORK/mc"
}
trap cleanup EXIT

for tool in go hyperfine curl python3 /usr/bin/time "$PEERS_BIN/minio" "$PEERS_BIN/mc"; do
  command -v "$tool" >/dev/null || { say "missing $tool: run scripts/install-peers.sh"; exit 1; }
done

# Nothing from the caller's AWS setup leaks in. AWS_CA_BUNDLE especially:
# the SDK parses the whole bundle on every cold call (~7 ms here), even for
# an http endpoint, which would skew every SDK-based figure.
unset AWS_CA_BUNDLE AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN \
  AWS_ENDPOINT_URL AWS_REGION AWS_DEFAULT_REGION ROLEHOP_SOURCE_CHAIN GODEBUG

# --- the programs, built as their releases are: static ------------------------
say "building rolehop and rolehop-credential-process (as make build)"
mkdir -p "$WORK/bin"
(cd "$ROOT" && CGO_ENABLED=0 go build -trimpath -o "$WORK/bin/" ./cmd/...)
FAST=$WORK/bin/rolehop-credential-process
FULL=$WORK/bin/rolehop
cat >"$WORK/hello.go" <<'EOF'
package main

import "os"

func main() { os.Stdout.WriteString("{}\n") }
EOF
(cd "$WORK" && CGO_ENABLED=0 go build -trimpath -o "$WORK/bin/hello" hello.go)
HELLO=$WORK/bin/hello

# aws-vault v7.2.0 static, as its Linux release binaries are
# (CGO_ENABLED=0, -s -w, the version stamped).
AWS_VAULT=$AWS_VAULT_DIR/aws-vault
if [ ! -x "$AWS_VAULT" ]; then
  say "building aws-vault v7.2.0 (static) into $AWS_VAULT_DIR"
  mkdir -p "$AWS_VAULT_DIR"
  tmpmod=$(mktemp -d)
  (cd "$tmpmod" && go mod init avbuild >/dev/null 2>&1 &&
    go get github.com/99designs/aws-vault/v7@v7.2.0 >/dev/null 2>&1 &&
    CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.Version=v7.2.0" -o "$AWS_VAULT" github.com/99designs/aws-vault/v7)
  rm -rf "$tmpmod"
fi

# granted, from source with its file keyring: the module's own go.mod and
# go.sum (its release's dependencies), built static as its release is. The
# module proxy here lists no versions of granted (403), but serves an exact
# one: `go mod download MODULE@VERSION`, then build in a copy of it.
GRANTED=${GRANTED:-$GRANTED_DIR/granted}
GRANTED_NOTE=""
if [ ! -x "$GRANTED" ]; then
  mkdir -p "$GRANTED_DIR"
  built=""
  : >"$WORK/granted-build.log"
  for mod in ${GRANTED_MODULE:-github.com/common-fate/granted github.com/fwdcloudsec/granted}; do
    src=$(cd /tmp && go mod download -json "$mod@${GRANTED_VERSION:-v0.38.0}" 2>>"$WORK/granted-build.log" |
      python3 -c 'import json,sys; print(json.load(sys.stdin).get("Dir",""))' 2>>"$WORK/granted-build.log") || src=""
    [ -n "$src" ] || continue
    tmpsrc=$(mktemp -d)
    cp -r "$src/." "$tmpsrc" && chmod -R u+w "$tmpsrc"
    if (cd "$tmpsrc" && CGO_ENABLED=0 GOFLAGS=-buildvcs=false go build -trimpath -ldflags "-s -w" -o "$GRANTED" ./cmd/granted >>"$WORK/granted-build.log" 2>&1); then
      built=$mod
    fi
    rm -rf "$tmpsrc"
    [ -n "$built" ] && break
  done
  if [ -z "$built" ]; then
    GRANTED_NOTE="granted not measured: $(grep -m1 -o '4[0-9][0-9] [A-Za-z ]*' "$WORK/granted-build.log" || echo 'build failed') (see $WORK/granted-build.log); set GRANTED, or GRANTED_MODULE and GRANTED_VERSION"
    say "$GRANTED_NOTE"
    GRANTED=
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

# --- AWS configs of every size ----------------------------------------------------
# The profiles every tool reads, then N generated credential_process profiles
# (what a profile generator writes for N roles), then the one measured.
make_config() { # N FILE
  python3 - "$1" "$2" "$FAST" "$USER_KEY" <<'PY'
import sys
n, out, fast, key = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
with open(out, "w") as f:
    f.write("[profile base]\nregion = us-east-1\n\n")
    f.write("[profile gbase]\naws_access_key_id = %s\naws_secret_access_key = bench-user-secret-1\nregion = us-east-1\n\n" % key)
    for i in range(n):
        name = "acct%06d-Admin" % i
        f.write("[profile %s]\ncredential_process = %s --profile %s\nrolehop_login = corp\n"
                "rolehop_role_arn = arn:aws:iam::%012d:role/Admin\nregion = eu-west-1\n\n" % (name, fast, name, i))
    f.write("[profile granted]\nrole_arn = arn:aws:iam::111111111111:role/Any\nsource_profile = gbase\nregion = us-east-1\n\n")
    f.write("[profile prod]\ncredential_process = %s --profile prod\nrolehop_base = rhbase\n"
            "rolehop_role_arn = arn:aws:iam::111111111111:role/Any\nregion = us-east-1\n" % fast)
PY
}
# rolehop's base profile keeps its static keys in the credentials file.
printf '[rhbase]\naws_access_key_id = %s\naws_secret_access_key = %s\n' "$USER_KEY" "$USER_SECRET" >"$WORK/credentials"
for n in $SIZES; do make_config "$n" "$WORK/config.$n"; done
SMALL=$(echo "$SIZES" | awk '{print $1}')
sleep 1.2 # older than a second: the fast program may remember its resolution

export AWS_SHARED_CREDENTIALS_FILE=$WORK/credentials AWS_CONFIG_FILE=$WORK/config.$SMALL
export AWS_EC2_METADATA_DISABLED=true AWS_ENDPOINT_URL_STS=$EP XDG_CACHE_HOME=$WORK/cache HOME=$WORK/home
export HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 NO_PROXY=127.0.0.1,localhost
mkdir -p "$HOME"

# aws-vault's file keyring holds the base user's keys.
export AWS_VAULT_BACKEND=file AWS_VAULT_FILE_PASSPHRASE=bench-passphrase AWS_VAULT_FILE_DIR=$WORK/vault
AWS_ACCESS_KEY_ID=$USER_KEY AWS_SECRET_ACCESS_KEY=$USER_SECRET "$AWS_VAULT" add base --env >/dev/null 2>&1
"$AWS_VAULT" export --format=json --no-session base >/dev/null

# granted: file keyring; its credential-process cache filled by one call.
if [ -n "$GRANTED" ]; then
  # A release reads ~/.granted/config, a build without release flags
  # ~/.dgranted/config: the file keyring in both.
  mkdir -p "$HOME/.granted" "$HOME/.dgranted" "$WORK/granted-keyring"
  printf '[Keyring]\n  Backend = "file"\n  FileDir = "%s"\n' "$WORK/granted-keyring" >"$HOME/.granted/config"
  cp "$HOME/.granted/config" "$HOME/.dgranted/config"
  if ! "$GRANTED" credential-process --profile granted >"$WORK/granted-warm.json" 2>"$WORK/granted-warm.log" ||
    ! python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["SessionToken"]' "$WORK/granted-warm.json" 2>/dev/null; then
    GRANTED_NOTE="granted not measured: its credential-process did not fill its cache (see $WORK/granted-warm.log)"
    say "$GRANTED_NOTE"
    GRANTED=
  fi
fi

# Warm rolehop's cache for every config (one AssumeRole each, through the
# fast program handing over) and check the document.
for n in $SIZES; do
  AWS_CONFIG_FILE=$WORK/config.$n "$FAST" --profile prod |
    python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["Version"]==1 and d["SessionToken"]'
done
# The fast program served the warm call itself, byte for byte rolehop's.
cmp <("$FAST" --profile prod) <("$FULL" credential-process --profile prod) || { say "outputs differ"; exit 1; }

# --- the runs ------------------------------------------------------------------------
# bench NAME RUNS CMD... : REPS hyperfine runs of the named commands
# (NAME=label=command pairs in CMDS), JSON per repetition.
declare -a LABELS CMDS
add() { LABELS+=("$1"); CMDS+=("$2"); }
run_set() { # SETNAME RUNS [hyperfine options...]
  local set=$1 runs=$2; shift 2
  local args=()
  for i in "${!LABELS[@]}"; do args+=(-n "${LABELS[$i]}" "${CMDS[$i]}"); done
  for r in $(seq "$REPS"); do
    say "$set: repetition $r of $REPS ($(uptime | sed 's/.*load average/load average/'))"
    hyperfine -N --style none --warmup "${WARMUP:-20}" --runs "$runs" "$@" --export-json "$OUT/$set.$r.json" "${args[@]}" >/dev/null
  done
  LABELS=(); CMDS=()
}

add "rolehop-credential-process (fast program)" "$FAST --profile prod"
add "rolehop credential-process (full CLI)" "$FULL credential-process --profile prod"
add "aws-vault export --no-session (static, file keyring)" "$AWS_VAULT export --format=json --no-session base"
[ -n "$GRANTED" ] && add "granted credential-process (file keyring)" "$GRANTED credential-process --profile granted"
add "Go hello world (static)" "$HELLO"
run_set warm "$RUNS"

for n in $SIZES; do
  export AWS_CONFIG_FILE=$WORK/config.$n
  # aws-vault takes seconds a call at 100,000 profiles: fewer runs there.
  runs=$RUNS; WARMUP=20
  if [ "$n" -ge 100000 ]; then runs=$((RUNS / 30 > 5 ? RUNS / 30 : 5)); WARMUP=2; fi
  add "rolehop-credential-process" "$FAST --profile prod"
  add "rolehop credential-process" "$FULL credential-process --profile prod"
  add "aws-vault" "$AWS_VAULT export --format=json --no-session base"
  [ -n "$GRANTED" ] && add "granted" "$GRANTED credential-process --profile granted"
  run_set "size$n" "$runs"
  # The first call after the config file changed: no remembered
  # resolution, the whole file read and checked (the streaming scan).
  add "rolehop-credential-process, config just changed" "$FAST --profile prod"
  run_set "changed$n" "$runs" --prepare "touch $WORK/config.$n"
done
WARMUP=20
export AWS_CONFIG_FILE=$WORK/config.$SMALL

add "rolehop-credential-process, cold (hands over, 1 AssumeRole)" "$FAST --profile prod"
add "curl --aws-sigv4 AssumeRole (STS latency + a process)" \
  "curl -s -o /dev/null --noproxy 127.0.0.1 --aws-sigv4 aws:amz:us-east-1:sts --user $USER_KEY:$USER_SECRET --data Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::111111111111:role/Any&RoleSessionName=bench $EP/"
run_set cold $((RUNS / 3)) --prepare "rm -rf $XDG_CACHE_HOME/rolehop/creds"
for n in $SIZES; do AWS_CONFIG_FILE=$WORK/config.$n "$FAST" --profile prod >/dev/null; done # warm again

# --- peak RSS --------------------------------------------------------------------------
rss() { /usr/bin/time -v "$@" 2>&1 >/dev/null | awk -F': ' '/Maximum resident/ {print $2}'; }
{
  echo "| command | peak RSS (KiB) |"
  echo "|---|---:|"
  echo "| rolehop-credential-process, warm | $(rss "$FAST" --profile prod) |"
  for n in $SIZES; do
    echo "| rolehop-credential-process, warm, $n profiles | $(rss env AWS_CONFIG_FILE="$WORK/config.$n" "$FAST" --profile prod) |"
  done
  echo "| rolehop credential-process, warm | $(rss "$FULL" credential-process --profile prod) |"
  echo "| aws-vault export --no-session | $(rss "$AWS_VAULT" export --format=json --no-session base) |"
  [ -n "$GRANTED" ] && echo "| granted credential-process | $(rss "$GRANTED" credential-process --profile granted) |"
  echo "| Go hello world | $(rss "$HELLO") |"
  rm -rf "$XDG_CACHE_HOME/rolehop/creds"
  echo "| rolehop-credential-process, cold (hands over, 1 AssumeRole) | $(rss "$FAST" --profile prod) |"
} >"$OUT/rss.md"

# --- tables: median of the repetitions' medians, and their spread ---------------------
python3 - "$OUT" "$REPS" "$SIZES" "$GRANTED_NOTE" <<'PY' | tee "$OUT/summary.md"
import json, statistics, sys, os
out, reps, sizes, note = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4]
def load(name):
    res = {}
    for r in range(1, reps + 1):
        for x in json.load(open(os.path.join(out, f"{name}.{r}.json")))["results"]:
            res.setdefault(x["command"], []).append(x["median"] * 1000)
    return res
def cell(ms):
    return f"{statistics.median(ms):.2f} ms ({min(ms):.2f}–{max(ms):.2f})"
warm = load("warm")
ref = statistics.median(warm["rolehop-credential-process (fast program)"])
hello = statistics.median(warm["Go hello world (static)"])
print(f"Warm cache, 10-profile config; median of {reps} repetitions' medians (lowest–highest):\n")
print("| command | median | ratio to the fast program | ratio to hello world |\n|---|---|---:|---:|")
for k, v in warm.items():
    m = statistics.median(v)
    print(f"| {k} | {cell(v)} | {m / ref:.2f}× | {m / hello:.2f}× |")
print("\nBy the size of the AWS config (warm cache):\n")
cols = None
rows = []
for n in sizes:
    s = load(f"size{n}")
    cols = cols or list(s)
    rows.append((n, s))
print("| profiles | " + " | ".join(cols) + " |")
print("|---:|" + "---|" * len(cols))
for n, s in rows:
    print(f"| {int(n):,} | " + " | ".join(cell(s[c]) for c in cols) + " |")
print("\nThe fast program's first call after the config file changed (the whole file read and checked):\n")
print("| profiles | rolehop-credential-process, config just changed |\n|---:|---|")
for n in sizes:
    ch = load(f"changed{n}")
    print(f"| {int(n):,} | " + " | ".join(cell(v) for v in ch.values()) + " |")
first = statistics.median(rows[0][1]["rolehop-credential-process"])
for n, s in rows[1:]:
    print(f"\nfast program at {int(n):,} profiles: {statistics.median(s['rolehop-credential-process']) / first:.2f}× its {int(rows[0][0]):,}-profile figure", end="")
print()
cold = load("cold")
print("\nCold cache (emptied before each run), one AssumeRole to MinIO:\n")
print("| command | median |\n|---|---|")
for k, v in cold.items():
    print(f"| {k} | {cell(v)} |")
c = [statistics.median(v) for v in cold.values()]
print(f"\nratio cold rolehop / curl: {c[0] / c[1]:.2f}×")
if note:
    print(f"\n{note}")
PY
cat "$OUT/rss.md"
say "results in $OUT"
