#!/usr/bin/env bash
# Builds kube-apiserver, kubectl and etcd (this module) and helm (./helm) from Go modules into
# a cache directory outside git, keyed by version; does nothing when they are already built.
# Prints the directory holding the binaries on stdout (progress goes to stderr).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

K8S_VERSION=v1.37.2
HELM_VERSION=v4.3.2
cache="${SWAS_OPERATOR_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/swas-image-operator}"
bin="$cache/k8s-$K8S_VERSION-helm-$HELM_VERSION/bin"

# The stamp changes whenever the pinned modules or this script change.
stamp_of() { cat "$here/go.mod" "$here/go.sum" "$here/helm/go.mod" "$here/helm/go.sum" "$0" | sha256sum | cut -c1-16; }
stamp="$bin/.stamp-$(stamp_of)"
if [ -f "$stamp" ]; then
  echo "$bin"
  exit 0
fi

command -v go >/dev/null || { echo "Go 1.26 or newer is needed to build the control plane" >&2; exit 1; }
mkdir -p "$bin"
export CGO_ENABLED=0 GOFLAGS="-mod=readonly -trimpath"
build_date=2026-10-27T12:01:04Z   # the release time of k8s.io/kubernetes v1.37.2
version_flags=""
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  version_flags+=" -X '$pkg.gitVersion=$K8S_VERSION' -X '$pkg.gitMajor=1' -X '$pkg.gitMinor=37'"
  version_flags+=" -X '$pkg.gitTreeState=clean' -X '$pkg.buildDate=$build_date'"
  version_flags+=" -X '$pkg.gitCommit=$K8S_VERSION'"
done

cd "$here"
for target in kube-apiserver:k8s.io/kubernetes/cmd/kube-apiserver \
              kubectl:k8s.io/kubernetes/cmd/kubectl \
              etcd:go.etcd.io/etcd/server/v3; do
  name="${target%%:*}" pkg="${target#*:}"
  echo "building $name ($pkg)" >&2
  go build -p 2 -ldflags "-s -w $version_flags" -o "$bin/$name" "$pkg"
done

cd "$here/helm"
echo "building helm" >&2
go build -p 2 -ldflags "-s -w -X helm.sh/helm/v4/internal/version.version=$HELM_VERSION" \
  -o "$bin/helm" helm.sh/helm/v4/cmd/helm

rm -f "$bin"/.stamp-*
touch "$stamp"
echo "$bin"
