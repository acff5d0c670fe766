#!/usr/bin/env bash
# bench-warm-ab.sh OLD NEW — the warm `credential-process` of two rolehop
# binaries (e.g. a release and a build of main) on one config and one warm
# cache, MinIO as STS: checks both print the same credentials, then times
# them with hyperfine. RUNS=100 by default. Needs make peers and hyperfine.
set -euo pipefail
OLD=$1 NEW=$2
PEERS_BIN=${ROLEHOP_PEERS_DIR:-$HOME/.cache/rolehop-peers}/bin
WORK=$(mktemp -d /tmp/wb.XXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
CPORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
MINIO_ROOT_USER=benchroot MINIO_ROOT_PASSWORD=benchroot-secret MINIO_BROWSER=off MINIO_UPDATE=off \
  "$PEERS_BIN/minio" server "$WORK/data" --address 127.0.0.1:$PORT --console-address 127.0.0.1:$CPORT >"$WORK/minio.log" 2>&1 &
MP=$!
trap 'kill $MP 2>/dev/null; rm -rf $WORK' EXIT
for _ in $(seq 100); do curl -fs http://127.0.0.1:$PORT/minio/health/live >/dev/null && break; sleep 0.1; done
sleep 1
cat >"$WORK/config" <<CFG
[profile base]
aws_access_key_id = benchroot
aws_secret_access_key = benchroot-secret
region = us-east-1

[profile prod]
rolehop_base = base
rolehop_role_arn = arn:aws:iam::111111111111:role/Any
region = us-east-1
CFG
: >"$WORK/credentials"
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_CA_BUNDLE
export AWS_CONFIG_FILE=$WORK/config AWS_SHARED_CREDENTIALS_FILE=$WORK/credentials AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL_STS=http://127.0.0.1:$PORT XDG_CACHE_HOME=$WORK/cache
for _ in $(seq 30); do "$NEW" credential-process --profile prod >/dev/null 2>&1 && break; sleep 0.5; done
"$OLD" credential-process --profile prod | python3 -c 'import json,sys; assert json.load(sys.stdin)["SessionToken"]'
"$NEW" credential-process --profile prod | python3 -c 'import json,sys; assert json.load(sys.stdin)["SessionToken"]'
cmp <("$OLD" credential-process --profile prod) <("$NEW" credential-process --profile prod) && echo "outputs identical"
hyperfine -N --warmup 10 --runs ${RUNS:-100} -n old "$OLD credential-process --profile prod" -n new "$NEW credential-process --profile prod"
