# One place for how the binaries are built: the Dockerfiles call these
# targets too, so a flag changed here changes every build.
SHELL := /bin/bash
MODULES := shared backend frontend e2e loadtest
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
GO_BUILD := go build -trimpath -ldflags "$(LDFLAGS)"
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT := $(CURDIR)/bin/tools/golangci-lint-$(GOLANGCI_LINT_VERSION)

.PHONY: build build-backend build-frontend build-fake run run-fake-ai test test-deps test-deploy lint bench soak vendor images fuzz

build: build-backend build-frontend build-fake

build-backend:
	cd backend && CGO_ENABLED=1 $(GO_BUILD) -o ../bin/backend ./cmd/backend

build-frontend:
	cd frontend && CGO_ENABLED=0 $(GO_BUILD) -o ../bin/frontend ./cmd/frontend

build-fake:
	cd backend && CGO_ENABLED=0 $(GO_BUILD) -o ../bin/fake-openrouter ./cmd/fake-openrouter

# Starts the system on its embedded defaults: backend on 127.0.0.1:8000,
# frontend on 127.0.0.1:8080; data/ holds the DuckDB file and the signing
# key; the first start prints the initial admin's password. Ctrl-C stops
# both, and either one exiting stops the other. The backend believes the
# X-Forwarded-For of the frontend beside it (TRUSTED_PROXIES), so sessions
# and lock-outs see the browser's address.
run: build-backend build-frontend
	mkdir -p data
	@trap 'kill $$(jobs -p) 2>/dev/null; wait' EXIT; \
	TRUSTED_PROXIES=$${TRUSTED_PROXIES-127.0.0.1,::1} ./bin/backend & ./bin/frontend & wait -n

# The same system with its AI gateway pointed at the local OpenRouter
# SIMULATOR (no key, no cost, canned answers): for trying the AI pages.
# The simulator listens on FAKE_ADDR; when it cannot (the address is taken,
# or it fails), this stops with the reason instead of pointing the backend
# at whatever answers there.
FAKE_ADDR ?= 127.0.0.1:8090
run-fake-ai: build-fake
	@trap 'kill $$(jobs -p) 2>/dev/null; wait' EXIT; \
	addr='$(FAKE_ADDR)'; host=$${addr%:*}; port=$${addr##*:}; \
	listening() { (exec 3<>"/dev/tcp/$$host/$$port") 2>/dev/null; }; \
	if listening; then \
		echo "make run-fake-ai: $$addr is already in use, so the OpenRouter simulator cannot listen there;" \
			"stop what holds it, or choose another address: make run-fake-ai FAKE_ADDR=127.0.0.1:8091" >&2; \
		exit 1; \
	fi; \
	FAKE_OPENROUTER_ADDR=$$addr ./bin/fake-openrouter & fake=$$!; \
	for i in $$(seq 100); do \
		if ! kill -0 $$fake 2>/dev/null; then \
			wait $$fake; echo "make run-fake-ai: the OpenRouter simulator did not start on $$addr (its error is above)" >&2; exit 1; \
		fi; \
		listening && break; \
		[ $$i = 100 ] && { echo "make run-fake-ai: the OpenRouter simulator does not listen on $$addr after 10 s" >&2; exit 1; }; \
		sleep 0.1; \
	done; \
	OPENROUTER_BASE_URL=http://$$addr/api/v1 OPENROUTER_API_KEY=fake-key $(MAKE) --no-print-directory run

# Installs what the tests need on a fresh machine (Chromium for the browser
# tests, the pinned official OpenAI Node SDK for the /v1 tests, the pinned
# linter, PostgreSQL's server binaries), lints, runs every module's tests
# under the race detector, the backend's API tests once more on PostgreSQL,
# then every fuzz target for TEST_FUZZTIME (a quick pass beyond the seed
# corpora, which go test runs). Tests that need PostgreSQL start a
# throwaway server of their own (shared/pgtest): a temporary cluster on a
# free port, stopped when they end.
TEST_FUZZTIME ?= 2s
test: test-deps lint
	@for m in $(MODULES); do \
		[ -d $$m ] || continue; \
		echo "== go test -race $$m"; \
		(cd $$m && go test -race -count=1 ./...) || exit 1; \
	done
	@echo "== go test backend/cmd/backend on PostgreSQL"
	@cd backend && DUCKGATE_TEST_ENGINE=postgres go test -count=1 ./cmd/backend/
	@$(MAKE) --no-print-directory fuzz FUZZTIME=$(TEST_FUZZTIME)

# Every fuzz target of every module, one after another (go test fuzzes one
# target per run), each for FUZZTIME. .ci/fuzz finds them (every func Fuzz
# in a _test.go file): a new target needs no entry here. FUZZ=REGEXP runs
# the matching ones, e.g. make fuzz FUZZ=SafeNext FUZZTIME=10m.
FUZZTIME ?= 60s
FUZZ ?=
fuzz:
	@FUZZTIME=$(FUZZTIME) .ci/fuzz $(FUZZ)

# The official OpenAI Node SDK the /v1 tests drive, at the version pinned
# in e2e/node/package-lock.json (into e2e/node/node_modules, not committed).
OPENAI_NODE_VERSION := $(shell sed -n 's/.*"openai": "\(.*\)".*/\1/p' e2e/node/package.json)

# PostgreSQL's binaries are looked for where shared/pgtest looks: on PATH,
# then under /usr/lib/postgresql/*/bin (Debian's layout). The package's own
# cluster and service are never used.
test-deps:
	@if [ -d frontend/cmd/frontend ] && ! command -v chromium >/dev/null 2>&1; then \
		echo "== installing chromium for the browser tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	fi
	@if ! command -v npm >/dev/null 2>&1; then \
		echo "== installing node and npm for the OpenAI Node SDK tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; \
	fi
	@if ! grep -qs '"version": "$(OPENAI_NODE_VERSION)"' e2e/node/node_modules/openai/package.json; then \
		echo "== installing the openai Node package $(OPENAI_NODE_VERSION) for the SDK tests"; \
		cd e2e/node && npm ci --no-audit --no-fund --loglevel=error; \
	fi
	@if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
		echo "== installing postgresql for the PostgreSQL tests"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	fi

# Load scenarios against the real binaries on loopback, each compared with a
# baseline measured in the same run (see loadtest/README.md). BENCH_FLAGS
# passes flags, e.g. BENCH_FLAGS="-only refresh -duration 10s -strict".
bench:
	go run ./loadtest/cmd/bench $(BENCH_FLAGS)

# A mixed load against the backend for SOAK (default 10m): does its memory
# level off (RSS of the last half within +10% of the middle), and does
# anything answer 5xx. See loadtest/README.md.
SOAK ?= 10m
soak:
	go run ./loadtest/cmd/bench -soak $(SOAK) $(BENCH_FLAGS)

# Container images, built by the targets above inside deploy/*.Dockerfile.
images:
	docker build -f deploy/backend.Dockerfile --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t duckgate-backend:$(VERSION) .
	docker build -f deploy/frontend.Dockerfile --build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) -t duckgate-frontend:$(VERSION) .

# The deployment checks alone (they parse files; seconds).
test-deploy:
	cd e2e && go test -count=1 -run 'Compose|Docker|Makefile|Healthcheck|Systemd|Kubernetes|EnvExample' .

# Re-vendors the pinned front-end libraries from npm (the build needs no npm).
vendor:
	frontend/internal/web/static/vendor/refresh.sh
	backend/internal/openapi/assets/refresh.sh

# gofmt, then golangci-lint (govet, staticcheck, errcheck, gosec, forbidigo
# and more: .golangci.yml) on every module, at the pinned version.
lint: $(GOLANGCI_LINT)
	@test -z "$$(gofmt -l $(MODULES))" || { echo "gofmt would change:"; gofmt -l $(MODULES); exit 1; }
	@for m in $(MODULES); do \
		echo "== golangci-lint $$m"; \
		(cd $$m && $(GOLANGCI_LINT) run --config ../.golangci.yml ./...) || exit 1; \
	done

$(GOLANGCI_LINT):
	@echo "== installing golangci-lint $(GOLANGCI_LINT_VERSION)"
	@mkdir -p $(dir $@)
	GOBIN=$(CURDIR)/bin/tools go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(CURDIR)/bin/tools/golangci-lint $@
