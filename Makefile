# Tamkeen's Makefile. The two commands a newcomer needs:
#   make run    start everything in one process (embedded NATS, SQLite)
#   make test   every test, the PostgreSQL and outside-tool suites included
#   make run-distributed  the production shape: one process per service
# Tools (buf, protoc plugins, staticcheck) are installed at pinned versions
# into .bin/ by `make tools`; nothing is expected on the PATH but Go.

SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c

BIN := $(CURDIR)/.bin
export PATH := $(BIN):$(PATH)

# Every module of the workspace (go.work); go commands run from the root see
# them all.
PKGS := ./proto/... ./libs/... ./gateway/... ./tools/... ./k8s/... \
	./services/auth/... ./services/notification/... ./services/signature/... \
	./services/payment/... ./services/content/...

# The store tests' PostgreSQL (deploy/local/ensure-services.sh creates the role).
export TAMKEEN_TEST_POSTGRES_URL ?= postgres://tamkeen_test:tamkeen_test@127.0.0.1:5432/postgres?sslmode=disable
# The 1,000,000-row bulk upload test (services/notification) takes minutes
# on a small machine: make test and CI run it, a bare go test does not.
export TAMKEEN_TEST_BULK_MILLION ?= 1

BUF_VERSION                := v1.75.0
PROTOC_GEN_GO_VERSION      := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
GRPC_GATEWAY_VERSION       := v2.32.0
STATICCHECK_VERSION        := v0.8.2

TEST_FLAGS ?= -count=1 -timeout 15m

.PHONY: run run-distributed images test test-short services generate check-generated tools lint openapi-tools bench bench-e2e fmt tidy clean

run:
	go run ./tools/tamkeen dev

## run-distributed: the production topology on this machine: every enabler
## and the gateway as its own process, one PostgreSQL database each, NATS
## with JetStream on a free port (Ctrl-C stops all; --fresh starts over).
run-distributed: services
	go run ./tools/distributed/cmd/run-distributed $(ARGS)

## dr-drill: the disaster-recovery drill on this machine (docs/operations.md,
## "The drill on one machine"): its own primary PostgreSQL cluster with a
## synchronous streaming replica and two NATS servers (the DR one mirroring
## the five streams), load, the primary cut off, the DR side promoted and
## serving; prints RPO and RTO and removes everything it made.
.PHONY: dr-drill
dr-drill: services
	go run ./tools/distributed/cmd/dr-drill $(ARGS)

## images: build the container image of every binary (deploy/Dockerfile,
## deploy/images.txt) where a container engine runs; where none does (here),
## say so and build the images' static binaries reproducibly into .bin/images.
images:
	./deploy/images.sh

## services: install (if absent) and start PostgreSQL and NATS for the tests.
services:
	./deploy/local/ensure-services.sh

test: services
	go test $(TEST_FLAGS) $(PKGS)

test-short:
	go test -short $(TEST_FLAGS) $(PKGS)

$(BIN)/buf:
	GOBIN=$(BIN) go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(BIN)/protoc-gen-go:
	GOBIN=$(BIN) go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(BIN)/protoc-gen-go-grpc:
	GOBIN=$(BIN) go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
$(BIN)/protoc-gen-grpc-gateway:
	GOBIN=$(BIN) go install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-grpc-gateway@$(GRPC_GATEWAY_VERSION)
$(BIN)/protoc-gen-openapiv2:
	GOBIN=$(BIN) go install github.com/grpc-ecosystem/grpc-gateway/v2/protoc-gen-openapiv2@$(GRPC_GATEWAY_VERSION)
$(BIN)/staticcheck:
	GOBIN=$(BIN) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

GEN_TOOLS := $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/protoc-gen-grpc-gateway $(BIN)/protoc-gen-openapiv2
tools: $(GEN_TOOLS) $(BIN)/staticcheck

## generate: regenerate Go, grpc-gateway and OpenAPI code from proto/.
generate: $(GEN_TOOLS)
	cd proto && rm -rf openapi && find tamkeen -name '*.pb.go' -o -name '*.pb.gw.go' | xargs -r rm
	cd proto && buf generate

## check-generated: fail when regeneration would change committed code.
check-generated: generate
	@if [ -n "$$(git status --porcelain -- proto)" ]; then \
		echo "generated code is stale; run make generate and commit:"; git status --porcelain -- proto; exit 1; fi

## lint: gofmt, go vet, buf lint, staticcheck, and the served OpenAPI
## document under Redocly (recommended) and Spectral (spectral:oas) with zero
## errors and warnings, its TypeScript types compiled with tsc --strict.
lint: $(BIN)/buf $(BIN)/staticcheck openapi-tools
	@unformatted=$$(gofmt -l proto libs gateway tools services k8s); \
		if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet $(PKGS)
	cd proto && buf lint
	staticcheck $(PKGS)
	go test -count=1 -p 1 ./tools/internal/openapi-lint/

## openapi-tools: npm ci the pinned Redocly CLI, Spectral, openapi-typescript,
## TypeScript and Redoc into tools/internal/openapi-lint (when the lock changed).
OPENAPI_TOOLS := tools/internal/openapi-lint
openapi-tools: $(OPENAPI_TOOLS)/node_modules/.package-lock.json
$(OPENAPI_TOOLS)/node_modules/.package-lock.json: $(OPENAPI_TOOLS)/package-lock.json
	npm ci --prefix $(OPENAPI_TOOLS) --ignore-scripts --no-audit --no-fund

bench: services
	go test -run '^$$' -bench . -benchmem -count=1 $(PKGS)

## bench-e2e: issue 15's table end to end: `tamkeen load` scenarios against
## tamkeen dev (rate limits lifted), each beside its reference measured in
## the same run, as a markdown table (docs/benchmarks.md). Not in `make
## test`. BENCH_DURATION=10 (s each), BENCH_BULK_SIZE=10000,
## BENCH_TARGETS="dev distributed" adds the run-distributed topology,
## BENCH_ROUNDS=3 measures each figure and its reference three times in turn
## and reports the round with the median ratio.
bench-e2e: services
	./tools/bench-e2e.sh

fmt:
	gofmt -w proto libs gateway tools services k8s

clean:
	rm -rf .data .bin
