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

test: deps
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $(PKGS)

lint:
	@out="$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))"; \
	if [ -n "$$out" ]; then echo "gofmt needed on:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) tool staticcheck $(PKGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

bench:
	@echo "make bench: the benchmark harness (bench/) has not landed yet; see the open benchmark issue." >&2
	@exit 1

clean:
	rm -f pgmoat
