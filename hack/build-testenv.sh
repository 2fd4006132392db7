#!/usr/bin/env bash
# Builds etcd and kube-apiserver from the Go module proxy into $1 (default bin/), once.
# envtest finds them through KUBEBUILDER_ASSETS. A cold build takes about 6-10 minutes on 2 cores (etcd 1, kube-apiserver 5-8).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/bin}
mkdir -p "$out"

build() { # name module-dir package
  local name=$1 dir=$2 pkg=$3
  if [ -x "$out/$name" ]; then return; fi
  echo ">> building $name from $pkg (cold build: several minutes)" >&2
  local start=$SECONDS
  ( cd "$dir" && go build -o "$out/$name.tmp" "$pkg" ) &
  local pid=$!
  while kill -0 "$pid" 2>/dev/null; do
    sleep 30
    kill -0 "$pid" 2>/dev/null && echo ">> still building $name ($((SECONDS - start))s)" >&2
  done
  wait "$pid"
  mv "$out/$name.tmp" "$out/$name"
  echo ">> built $name in $((SECONDS - start))s" >&2
}

build etcd "$root/test/tools/etcd" go.etcd.io/etcd/server/v3
build kube-apiserver "$root/test/tools/apiserver" k8s.io/kubernetes/cmd/kube-apiserver
