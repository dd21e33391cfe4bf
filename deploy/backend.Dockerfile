# syntax=docker/dockerfile:1
#
# The duckgate backend (API + embedded DuckDB).
#
#   docker build -f deploy/backend.Dockerfile -t duckgate-backend .
#
# The build context is the repository root: go.work joins the modules, so
# every module's go.mod must be there, and the Makefile is the one place
# defining the build flags.

# Debian bookworm for the build: the binary links glibc dynamically, so it
# must be built against a glibc no newer than the runtime image's
# (distroless/cc-debian12 is bookworm's glibc 2.36).
ARG GO_VERSION=1.26
FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
COPY go.work go.work.sum Makefile ./
COPY shared/ shared/
COPY backend/ backend/
COPY frontend/ frontend/
COPY e2e/ e2e/
COPY loadtest/ loadtest/
ARG VERSION=dev
ARG COMMIT=unknown
# cgo for DuckDB (gcc and make come with the golang image); the cache
# mounts keep modules and compiled DuckDB between builds.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    make build-backend VERSION="${VERSION}" COMMIT="${COMMIT}"
# /data belongs to the runtime's non-root user (65532), so a new named
# volume mounted there starts with that owner too.
RUN mkdir -p /staging/data/backups && chown -R 65532:65532 /staging/data

# distroless/cc, not static or scratch: DuckDB is C++, and the binary needs
# glibc, libstdc++ and libgcc_s at run time, which this image has and
# nothing else (no shell, no package manager). Alpine's musl cannot run it.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/bin/backend /usr/local/bin/backend
COPY --from=build --chown=65532:65532 /staging/data /data
ENV BACKEND_ADDR=0.0.0.0:8000 \
    DUCKDB_PATH=/data/app.duckdb \
    JWT_KEY_FILE=/data/jwt-ed25519.pem \
    BACKUP_DIR=/data/backups
USER nonroot:nonroot
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
# The binary probes its own /readyz: the image needs no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
    CMD ["/usr/local/bin/backend", "healthcheck"]
# Operator commands run through the same entry point while the service is
# stopped, e.g. `docker run --rm -v duckgate_data:/data IMAGE migrate`.
ENTRYPOINT ["/usr/local/bin/backend"]
CMD ["serve"]
