#!/usr/bin/env bash
# Re-vendors the browser libraries of the chat page from npm at the pinned
# versions below: marked (Markdown to HTML) and DOMPurify (sanitises that
# HTML before it reaches the page). The files are committed and embedded with
# go:embed, so the frontend serves them itself — nothing loads from a CDN.
# Bump a version, run this script, and commit the result.
set -euo pipefail

MARKED_VERSION=18.2.1
DOMPURIFY_VERSION=3.4.18
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# vendor PACKAGE VERSION SOURCE-FILE DEST-NAME
vendor() {
	local pkg=$1 version=$2 src=$3 dest=$4
	(cd "$work" && rm -rf package && npm pack --silent "${pkg}@${version}" >/dev/null && tar -xzf "${pkg}-${version}.tgz")
	# Drop the source-map comment: the map is not vendored, and a browser with
	# devtools open would otherwise ask for it and log a 404.
	sed -e '/^\/\/# sourceMappingURL=/d' "$work/package/$src" >"$here/$dest"
	cp "$work/package/LICENSE" "$here/${dest%%.*}.LICENSE" 2>/dev/null ||
		cp "$work/package/LICENSE.md" "$here/${dest%%.*}.LICENSE"
	echo "$pkg $version" >>"$here/VERSIONS.new"
}

rm -f "$here/VERSIONS.new"
vendor marked "$MARKED_VERSION" lib/marked.umd.js marked.js
vendor dompurify "$DOMPURIFY_VERSION" dist/purify.min.js purify.js
mv "$here/VERSIONS.new" "$here/VERSIONS"
echo "vendored into $here:"; cat "$here/VERSIONS"
