# syntax=docker/dockerfile:1
#
# The duckgate frontend (server-rendered pages and the /api proxy).
#
#   docker build -f deploy/frontend.Dockerfile -t duckgate-frontend .
#
# The build context is the repository root: go.work joins the modules, so
# every module's go.mod must be there, and the Makefile is the one place
# defining the build flags.

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
# CGO_ENABLED=0 (set by the Makefile target): a static binary.
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    make build-frontend VERSION="${VERSION}" COMMIT="${COMMIT}"

# A static binary needs no libc: distroless/static has only CA certificates,
# tzdata and a non-root user (65532).
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/bin/frontend /usr/local/bin/frontend
ENV FRONTEND_ADDR=0.0.0.0:8080 \
    BACKEND_URL=http://backend:8000
USER nonroot:nonroot
EXPOSE 8080
# The binary probes its own /readyz (which needs the backend): no curl.
HEALTHCHECK --interval=10s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/frontend", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/frontend"]
CMD ["serve"]
