#!/usr/bin/env bash
# demo.sh — `make demo`: rolehop end to end on this machine, no AWS account.
# Installs the peers if needed (SimpleSAMLphp, MinIO, the AWS CLI v2), builds
# rolehop, then runs internal/demo: IdP login -> STS credentials -> profile ->
# `aws s3 ls`. Pass --hold to keep the peers running and try more commands.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-peers.sh
make build
exec go run ./internal/demo -rolehop bin/rolehop "$@"
