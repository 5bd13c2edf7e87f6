# Developer workflow. `make help` lists the targets.

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

GO ?= go
# Semantic version stamped into the binaries and used to register the plugin (see scripts/version.sh).
VERSION ?= $(shell scripts/version.sh)
LDFLAGS := -s -w -X main.version=$(VERSION)
# Static binaries: Vault's official image is Alpine (musl), and plugins run wherever Vault runs.
GOBUILD := CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)'
# Extra `go test` flags for `make test`, e.g. GOTESTFLAGS=-v (CI) or GOTESTFLAGS='-run TestEngine'.
GOTESTFLAGS ?=
# Pinned so `make lint` gives the same answer everywhere; v0.8.x supports Go 1.26.
STATICCHECK_VERSION ?= v0.8.2
# OpenBao source (folder or tarball) for `make openbao` when no bao binary is found; defaults to the vendored
# tarball next to the repository when there is one (see scripts/openbao.sh and the README, "Vault and OpenBao").
OPENBAO_SOURCE ?= $(firstword $(wildcard $(CURDIR)/../shared/vendor/openbao/openbao-v*-src.tar.gz))
export OPENBAO_SOURCE
# Which server `make dev` runs: vault or openbao.
SERVER ?= vault

.PHONY: help
help: ## list the targets
	@grep -E '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: build
build: ## build bin/vault-plugin-secrets-alicloud, bin/alicloud-vault-credentials and bin/alicloud-emulator
	@mkdir -p bin
	$(GOBUILD) -o bin/vault-plugin-secrets-alicloud ./cmd/vault-plugin-secrets-alicloud
	$(GOBUILD) -o bin/alicloud-vault-credentials ./cmd/alicloud-vault-credentials
	$(GOBUILD) -o bin/alicloud-emulator ./cmd/alicloud-emulator

.PHONY: vault
vault: ## build the pinned Vault server once (cached per user) and link it as bin/vault
	scripts/vault.sh

.PHONY: openbao
openbao: ## provide the pinned OpenBao server as bin/bao (BAO_BINARY, a bao on PATH, the cache, or a build from OPENBAO_SOURCE)
	scripts/openbao.sh

.PHONY: dev
dev: ## run Vault (SERVER=openbao: OpenBao) with the plugin against the emulator (Ctrl-C stops everything)
	VERSION='$(VERSION)' SERVER='$(SERVER)' scripts/dev.sh

.PHONY: cluster
cluster: build ## a 3-node Raft cluster of Vault (SERVER=openbao: OpenBao) with the plugin, against the emulator (Ctrl-C stops everything)
	@if [[ "$(SERVER)" == openbao ]]; then scripts/openbao.sh; bin="$${BAO_BINARY:-$(CURDIR)/bin/bao}"; \
	else bin="$${VAULT_BINARY:-}"; if [[ -z "$$bin" ]]; then scripts/vault.sh; bin="$(CURDIR)/bin/vault"; fi; fi; \
	$(GO) run ./cmd/alicloud-dev-cluster -server '$(SERVER)' -binary "$$bin" -version '$(VERSION)'

.PHONY: test
test: fmt-check vet vault openbao ## gofmt check, go vet, unit tests and end-to-end tests (all required, on Vault and on OpenBao) with the race detector
	E2E_REQUIRED=1 VAULT_BINARY="$(CURDIR)/bin/vault" $(GO) test -race -count=1 -timeout 20m $(GOTESTFLAGS) ./...
	E2E_REQUIRED=1 E2E_SERVER=openbao BAO_BINARY="$(CURDIR)/bin/bao" $(GO) test -race -count=1 -timeout 20m $(GOTESTFLAGS) ./e2e/...

.PHONY: unit
unit: ## unit tests only, with the race detector (-short skips the end-to-end tests)
	$(GO) test -race -short ./...

.PHONY: e2e
e2e: vault openbao ## end-to-end tests: a real Vault process, then a real OpenBao process, the plugin and the emulator
	E2E_REQUIRED=1 VAULT_BINARY="$(CURDIR)/bin/vault" $(GO) test -race -count=1 -timeout 20m -v ./e2e/...
	E2E_REQUIRED=1 E2E_SERVER=openbao BAO_BINARY="$(CURDIR)/bin/bao" $(GO) test -race -count=1 -timeout 20m -v ./e2e/...

.PHONY: bench
bench: build vault ## side by side with HashiCorp's plugin in one Vault (bench/README.md); BENCH_FLAGS='-clients 32 -duration 20s'
	$(GO) run ./bench $(BENCH_FLAGS)

.PHONY: bench-scale
bench-scale: build vault ## cost along roles, live leases, mounts, hours, latency (bench/README.md); BENCH_SCALE_FLAGS='-quick' or '-axes roles -roles 10,1000'
	VAULT_BINARY="$(CURDIR)/bin/vault" $(GO) run ./bench/scale $(BENCH_SCALE_FLAGS)

.PHONY: soak
soak: vault ## bounded soak: load, emulator faults, plugin and Vault kills, then an audit (soak/README.md); SOAK_FLAGS='-seed 42 -duration 20m'
	VAULT_BINARY="$(CURDIR)/bin/vault" $(GO) run ./soak $(SOAK_FLAGS)

.PHONY: bench-micro
bench-micro: ## Go micro-benchmarks of the client, the emulator and the credentials cache
	$(GO) test -run '^$$' -bench . -benchmem ./aliyun/... ./emulator/... ./credentials/...

.PHONY: vet
vet: ## go vet
	$(GO) vet ./...

.PHONY: fmt
fmt: ## rewrite the Go files with gofmt
	gofmt -w $$(git ls-files -co --exclude-standard '*.go')

.PHONY: fmt-check
fmt-check: ## fail when a Go file is not gofmt-formatted
	@files="$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go'))"; \
	if [[ -n "$$files" ]]; then echo "not gofmt-formatted (run make fmt):"; echo "$$files"; exit 1; fi

.PHONY: lint
lint: fmt-check vet ## gofmt check, go vet and staticcheck
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...

.PHONY: clean
clean: ## remove bin/ and the repository-local cache (the per-user Vault and OpenBao cache stays)
	rm -rf bin .cache
