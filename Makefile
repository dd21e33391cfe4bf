# One place for how the binaries are built: the Dockerfiles call these
# targets too, so a flag changed here changes every build.
SHELL := /bin/bash
MODULES := shared backend frontend
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
GO_BUILD := go build -trimpath -ldflags "$(LDFLAGS)"

.PHONY: build build-backend build-frontend run test lint bench tools

build: build-backend

build-backend:
	cd backend && CGO_ENABLED=1 $(GO_BUILD) -o ../bin/backend ./cmd/backend

run: build-backend
	mkdir -p data
	./bin/backend

test:
	@for m in $(MODULES); do \
		[ -d $$m ] || continue; \
		echo "== go test $$m"; \
		(cd $$m && go test -count=1 ./...) || exit 1; \
	done

lint:
	@test -z "$$(gofmt -l $(MODULES))" || { gofmt -l $(MODULES); exit 1; }
	@for m in $(MODULES); do (cd $$m && go vet ./...) || exit 1; done
