#!/usr/bin/env bash
# Builds Gitea (the test forge of git mode for teams) from the Go module proxy into $1/gitea
# (default bin/gitea/), once: the binary with its options/ and templates/ next to it, as Gitea
# reads them from its work path when built without bindata. A cold build takes about 6-10
# minutes on 2 cores.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/bin}/gitea
version=${GITEA_VERSION:-v1.26.0}
if [ -x "$out/gitea" ] && [ "$(cat "$out/VERSION" 2>/dev/null)" = "$version" ]; then exit 0; fi
echo ">> building gitea $version from the Go module proxy (cold build: several minutes)" >&2
start=$SECONDS
# Downloaded outside this module, so that its go.mod and go.sum are not touched.
src=$(cd "$(mktemp -d)" && GOFLAGS= GO111MODULE=on go mod download -json "code.gitea.io/gitea@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -d "$src" ] || { echo "gitea source not found" >&2; exit 1; }
mkdir -p "$out"
( cd "$src" && GOFLAGS=-mod=mod CGO_ENABLED=1 go build -trimpath -tags 'sqlite sqlite_unlock_notify' \
    -ldflags "-X code.gitea.io/gitea/modules/setting.AppVer=${version#v}" -o "$out/gitea.tmp" . ) &
pid=$!
while kill -0 "$pid" 2>/dev/null; do
  sleep 30
  kill -0 "$pid" 2>/dev/null && echo ">> still building gitea ($((SECONDS - start))s)" >&2
done
wait "$pid"
rm -rf "$out/options" "$out/templates"
cp -r "$src/options" "$src/templates" "$out/"
chmod -R u+w "$out/options" "$out/templates"
mv "$out/gitea.tmp" "$out/gitea"
echo "$version" > "$out/VERSION"
echo ">> built gitea in $((SECONDS - start))s" >&2
