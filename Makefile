# The engine's everyday commands. `make run` and `make test` need only Go;
# `make services` needs a Debian machine (it may apt-get install), `make up`
# needs Docker.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)

# Root runs the service commands directly; anyone else through sudo.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run build test test-esdb race fuzz bench lint services up

## run: serve on the embedded default (SQLite under ./data, http://localhost:8080)
run:
	go run ./cmd/commerce serve

## build: bin/commerce, static (no cgo), with version and commit stamped in
build:
	CGO_ENABLED=0 go build -trimpath -ldflags '$(LDFLAGS)' -o bin/commerce ./cmd/commerce

## test: every test; integration tests skip (with the reason) without their services
test:
	go test -timeout 30m ./...

# The KurrentDB / EventStoreDB server test-esdb runs the conformance suite against
# (`docker compose up -d kurrentdb` starts one on this address).
COMMERCE_ESDB_URL ?= kurrentdb://127.0.0.1:2113?tls=false

## test-esdb: the event store conformance suite and the adapter's tests against a KurrentDB/EventStoreDB server
test-esdb:
	COMMERCE_ESDB_URL='$(COMMERCE_ESDB_URL)' go test -count=1 -v ./eventstore/esdb/

## race: every test under the race detector, the long ones too (needs gcc, unlike `make test`)
race:
	go test -race -timeout 30m ./...

# An execution count, not a duration: Go 1.26's fuzz coordinator can fail a
# target with a bare "context deadline exceeded" when a duration runs out
# (golang/go#75804, fixed in Go 1.27); a count has no deadline to race.
FUZZTIME ?= 40000x

## fuzz: every fuzz target for FUZZTIME each, one at a time (seed corpora run in `make test` too)
fuzz:
	@grep -rn --include='*_test.go' -E '^func Fuzz[A-Za-z0-9_]*\(' . | while IFS=: read -r file _ rest; do \
		name=$$(echo "$$rest" | sed -E 's/^func (Fuzz[A-Za-z0-9_]*)\(.*/\1/'); \
		echo "fuzz $$name in $$(dirname $$file) for $(FUZZTIME)"; \
		go test -run '^$$' -fuzz "^$$name\$$" -fuzztime $(FUZZTIME) "./$$(dirname $$file)" || exit 1; \
	done

# The PostgreSQL server `make bench` measures, and pgbench's baseline with it.
BENCH_POSTGRES_URL ?= $(or $(COMMERCE_TEST_POSTGRES_URL),postgres://postgres@127.0.0.1:5432/test?sslmode=disable)

## bench: event store figures on SQLite and PostgreSQL beside pgbench, relay and saga checkouts on RabbitMQ, loadgen against serve (all roles, then split), one line each (see cmd/esbench)
bench:
	go run ./cmd/esbench -pg '$(BENCH_POSTGRES_URL)'

# The golangci-lint `make lint` runs (.golangci.yml), installed into
# $(go env GOPATH)/bin at this version when that one is missing or another.
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(shell go env GOPATH)/bin/golangci-lint

## lint: gofmt must have nothing to say, go vet and golangci-lint (pinned, installed if missing) must pass
lint:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	go vet ./...
	@if ! "$(GOLANGCI_LINT)" version 2>/dev/null | grep -q "version $(patsubst v%,%,$(GOLANGCI_LINT_VERSION)) "; then \
		echo "installing golangci-lint $(GOLANGCI_LINT_VERSION)"; \
		go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION); \
	fi
	"$(GOLANGCI_LINT)" run ./...

## services: start PostgreSQL, Redis and RabbitMQ from Debian's packages if they are not running
services:
	@apt_install() { $(SUDO) apt-get update -qq && $(SUDO) DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$$@"; }; \
	wait_for() { for _ in $$(seq 60); do if eval "$$2" >/dev/null 2>&1; then echo "$$1: up"; return 0; fi; sleep 1; done; echo "$$1: not up after 60s" >&2; return 1; }; \
	tcp_open() { (exec 3<>"/dev/tcp/127.0.0.1/$$1") 2>/dev/null; }; \
	missing=(); \
	command -v pg_ctlcluster >/dev/null || missing+=(postgresql); \
	command -v redis-server >/dev/null || missing+=(redis-server); \
	command -v rabbitmq-server >/dev/null || missing+=(rabbitmq-server); \
	if [ $${#missing[@]} -gt 0 ]; then echo "installing $${missing[*]}"; apt_install "$${missing[@]}"; fi; \
	if ! pg_isready -q -h 127.0.0.1 -p 5432; then \
		$(SUDO) pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start; \
	fi; \
	wait_for postgresql "pg_isready -q -h 127.0.0.1 -p 5432"; \
	for db in commerce test; do \
		$(SUDO) runuser -u postgres -- psql -qtAc "SELECT 1 FROM pg_database WHERE datname = '$$db'" | grep -q 1 \
			|| $(SUDO) runuser -u postgres -- createdb "$$db"; \
	done; \
	if ! redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null | grep -q PONG; then \
		$(SUDO) redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no; \
	fi; \
	wait_for redis "redis-cli -h 127.0.0.1 -p 6379 ping | grep -q PONG"; \
	if ! tcp_open 5672; then \
		$(SUDO) rabbitmq-server -detached; \
		wait_for rabbitmq "rabbitmq-diagnostics -q ping"; \
	fi; \
	wait_for "rabbitmq (amqp port)" "tcp_open 5672"

## up: the engine and every service in Docker (see docker-compose.yml)
up:
	docker compose up --build
