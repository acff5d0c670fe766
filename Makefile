# rolehop — `make test` is the one test command (CI runs it through .ci/run).
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

.PHONY: test peers build bench demo

test: ## install peers, gofmt, go vet, staticcheck, go test -race
	scripts/test.sh

peers: ## install the test peers (apt packages, minio, mc, staticcheck)
	scripts/install-peers.sh

build: ## build bin/rolehop and bin/rolehop-credential-process (static: no dynamic loader at start, ~1 ms faster per run)
	CGO_ENABLED=0 go build -trimpath -ldflags "-X main.version=$(VERSION)" -o bin/ ./cmd/...

bench: ## run the benchmarks (figures go to BENCHMARKS.md); whole-process ones: scripts/bench-credproc.sh
	go test -run '^$$' -bench . -benchmem ./...

demo: ## log in to the local IdP and call S3 with the written profile (no AWS account needed)
	scripts/demo.sh
