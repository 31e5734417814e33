# pgmoat — see README.md. Every target installs what it needs first
# (.ci/deps: PostgreSQL server binaries, psql, pgbench).

GO ?= go
PKGS ?= ./...
TEST_TIMEOUT ?= 30m

.PHONY: all build run test lint bench deps fmt clean

all: build

deps:
	@.ci/deps

build:
	$(GO) build -o pgmoat ./cmd/pgmoat

run: deps
	$(GO) run ./cmd/pgmoat demo

# go test runs the test binaries in the order the packages are named, -p
# (GOMAXPROCS, two on a small machine) at a time. Named alphabetically, the
# longest (proxy) comes last and runs on alone after everything else has
# finished; the longest are named first so the short ones fill in beside
# them. A package named twice is tested once. PKGS=... tests only those.
TEST_FIRST = ./proxy/ ./policy/ ./integration/shop/ ./cmd/pgmoat/ ./introspect/

test: deps
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(if $(filter ./...,$(PKGS)),$(TEST_FIRST)) $(PKGS)

lint:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

# The full side-by-side benchmark (pgmoat, PgBouncer, direct PostgreSQL, npm
# MCP peers); writes bench/results/. BENCH_FLAGS picks a subset, e.g.
# BENCH_FLAGS='-only throughput -clients 16,64 -duration 10s'.
bench: deps
	$(GO) run ./bench -out bench/results $(BENCH_FLAGS)

clean:
	rm -f pgmoat
