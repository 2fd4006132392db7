#!/usr/bin/env bash
# Builds the operator's OCI image without a Docker engine: a static binary (no --local
# harness: -tags nolocal) on an empty base, run as a non-root user, written as an OCI archive.
#   hack/build-image.sh IMAGE OUT.tar VERSION
# buildah comes from Debian's packages (installed when missing); its storage stays under bin/.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
image=${1:-meridio-operator:latest}
out=${2:-$root/dist/meridio-operator.tar}
version=${3:-dev}

if ! command -v buildah >/dev/null; then
  echo ">> installing buildah (apt-get)" >&2
  if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get install -y buildah >/dev/null || { $sudo apt-get update >/dev/null && $sudo apt-get install -y buildah >/dev/null; }
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -C "$root" -tags nolocal -trimpath \
  -ldflags "-s -w -X github.com/meridio-operator/meridio-operator/internal/cli.Version=$version" \
  -o "$work/meridio-operator" .

b=(buildah --storage-driver vfs --root "$root/bin/buildah/storage" --runroot "$root/bin/buildah/run")
ctr=$("${b[@]}" from --isolation chroot scratch)
trap '"${b[@]}" rm "$ctr" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
"${b[@]}" copy --chmod 0555 "$ctr" "$work/meridio-operator" /meridio-operator >/dev/null
"${b[@]}" config --user 65532:65532 --entrypoint '["/meridio-operator"]' --cmd run \
  --label org.opencontainers.image.title=meridio-operator \
  --label org.opencontainers.image.version="$version" "$ctr"
"${b[@]}" commit --quiet --format oci "$ctr" "$image" >/dev/null
mkdir -p "$(dirname "$out")"
rm -f "$out"
"${b[@]}" push --quiet "$image" "oci-archive:$out:$image" >/dev/null
echo ">> $image written to $out ($(du -h "$out" | cut -f1))" >&2
