#!/usr/bin/env bash
# `make demo`: build what is missing, start a local control plane, the SWAS emulator and the
# operator, then walk one CustomImage through create -> Ready -> share -> delete and print what
# happened. Everything keeps running afterwards; `make demo-down` stops it.
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
work="$repo/target/demo"
mkdir -p "$work"
say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Building (cached after the first run)"
bin="$(bash "$repo/tests/controlplane/build.sh")"
(cd "$repo" && cargo build --locked --quiet)
operator="$repo/target/debug/swas-image-operator"
export PATH="$bin:$PATH" KUBECONFIG="$work/cluster/kubeconfig"

say "Starting etcd and kube-apiserver v1.37.2 on loopback"
bash "$repo/tests/controlplane/cluster.sh" up "$work/cluster"

say "Starting the SWAS emulator"
if ! { [ -f "$work/emulator.pid" ] && kill -0 "$(cat "$work/emulator.pid")" 2>/dev/null; }; then
  setsid "$operator" emulator --listen 127.0.0.1:0 --create-delay-ms 3000 \
    >"$work/emulator.log" 2>&1 < /dev/null &
  echo $! > "$work/emulator.pid"
  for _ in $(seq 100); do grep -q listening "$work/emulator.log" && break; sleep 0.1; done
fi
emulator="$(sed -n 's/.*listening on //p' "$work/emulator.log")"
echo "emulator at $emulator (access key emulator-ak / emulator-secret)"

say "Installing the CustomImage CRD and the example resources"
kubectl apply --server-side -f "$repo/crds/" >/dev/null
kubectl wait --for=condition=Established --timeout=120s crd/customimages.swas.image-operator.dev
kubectl create namespace demo --dry-run=client -o yaml | kubectl apply -f - >/dev/null
kubectl -n demo apply -f "$repo/deploy/examples/"

if ! "$operator" run --help >/dev/null 2>&1; then
  say "The operator's controller is not built yet; the demo stops here"
  kubectl -n demo get customimages
  echo
  echo "export KUBECONFIG=$KUBECONFIG PATH=$bin:\$PATH"
  exit 0
fi
