#!/usr/bin/env bash
# Re-vendors the Swagger UI files the /docs page needs from npm, at the pinned
# version below. The files are committed and embedded with go:embed, so the
# backend serves its docs page without any CDN or network access at run time.
# Bump SWAGGER_UI_VERSION, run this script, and commit the result.
set -euo pipefail

SWAGGER_UI_VERSION=5.35.0
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

mkdir -p "$here/swagger-ui"
cd "$work"
npm pack --silent "swagger-ui-dist@${SWAGGER_UI_VERSION}" >/dev/null
tar -xzf swagger-ui-dist-*.tgz

for f in swagger-ui-bundle.js swagger-ui.css LICENSE; do
	# Drop the source-map comment: the map is not vendored, and a browser
	# with devtools open would otherwise ask for it and log a 404.
	sed -e '/^\/\/# sourceMappingURL=/d' -e 's#/\*\# sourceMappingURL=.*\*/##' \
		"package/$f" >"$here/swagger-ui/$f"
done
echo "$SWAGGER_UI_VERSION" >"$here/swagger-ui/VERSION"
echo "vendored swagger-ui-dist ${SWAGGER_UI_VERSION} into $here/swagger-ui"
