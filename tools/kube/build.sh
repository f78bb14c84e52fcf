#!/bin/sh
# Builds kube-apiserver and kube-controller-manager for the tests' real API server, once per machine.
#
# The binaries come from the published k8s.io/kubernetes Go module pinned in this directory's go.mod, built with
# the machine's Go (GOTOOLCHAIN=local: a newer Go's JSON encoder breaks the server's /openapi/v2). They are kept
# outside the source tree, in ${XDG_CACHE_HOME:-$HOME/.cache}/quay-bridge/kube/v<version>/, so every worktree
# and every checkout of the project shares one build; a build that is already there is not repeated.
# Prints the directory holding the binaries on its last line.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
version=$(sed -n 's/^[[:space:]]*k8s.io\/kubernetes \(v[0-9.]*\).*/\1/p' "$here/go.mod")
[ -n "$version" ] || { echo "tools/kube/go.mod names no k8s.io/kubernetes version" >&2; exit 2; }
cache="${XDG_CACHE_HOME:-$HOME/.cache}/quay-bridge/kube/$version"
binaries="kube-apiserver kube-controller-manager"

missing=""
for b in $binaries; do [ -x "$cache/$b" ] || missing="$missing $b"; done
if [ -z "$missing" ]; then echo "$cache"; exit 0; fi

command -v go >/dev/null 2>&1 || {
  echo "Go 1.26 is needed to build$missing (none on PATH)" >&2; exit 3; }
goversion=$(GOTOOLCHAIN=local go env GOVERSION)
case "$goversion" in
  go1.26|go1.26.*) ;;
  *) echo "building$missing needs Go 1.26 (found $goversion): with a newer Go the API server's" \
       "/openapi/v2 is broken and kubectl apply fails; an older one cannot build Kubernetes 1.36" >&2
     exit 3 ;;
esac
mkdir -p "$cache"
# One build at a time per machine: a second caller waits for the first, then finds the binaries there.
if command -v flock >/dev/null 2>&1 && [ -z "${QUAY_BRIDGE_KUBE_LOCKED:-}" ]; then
  export QUAY_BRIDGE_KUBE_LOCKED=1
  exec flock "$cache/.lock" sh "$0" "$@"
fi
missing=""
for b in $binaries; do [ -x "$cache/$b" ] || missing="$missing $b"; done
major=${version#v}; major=${major%%.*}
minor=${version#v*.}; minor=${minor%%.*}
ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$version \
 -X k8s.io/component-base/version.gitMajor=$major -X k8s.io/component-base/version.gitMinor=$minor \
 -X k8s.io/component-base/version.gitTreeState=clean"
for b in $missing; do
  echo "building $b $version into $cache (several minutes on a cold Go cache)" >&2
  # Build to a temporary name and rename, so an interrupted build never leaves a half-written binary behind.
  (cd "$here" && GOTOOLCHAIN=local GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0 \
     go build -trimpath -ldflags "$ldflags" -o "$cache/.$b.partial.$$" "k8s.io/kubernetes/cmd/$b")
  mv "$cache/.$b.partial.$$" "$cache/$b"
done
echo "$cache"
