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
# Record web-base's conditions several times a second until it is gone (printed at the end,
# one line per change).
(
  conditions='{range .status.conditions[*]}{.type}={.status}({.reason}) {end}'
  while kubectl -n demo get customimage web-base -o jsonpath="$conditions" 2>/dev/null; do
    echo
    sleep 0.2
  done
) > "$work/transitions.log" &
watch_pid=$!

if ! "$operator" run --help >/dev/null 2>&1; then
  say "The operator's controller is not built yet; the demo stops here"
  kubectl -n demo get customimages
  echo
  echo "export KUBECONFIG=$KUBECONFIG PATH=$bin:\$PATH"
  exit 0
fi

say "Starting the operator"
if ! { [ -f "$work/operator.pid" ] && kill -0 "$(cat "$work/operator.pid")" 2>/dev/null; }; then
  ALIBABA_CLOUD_ACCESS_KEY_ID=emulator-ak ALIBABA_CLOUD_ACCESS_KEY_SECRET=emulator-secret \
  ALIBABA_CLOUD_ECS_METADATA_DISABLED=true RUST_LOG=info,kube=warn \
    setsid "$operator" run --swas-endpoint "$emulator" --poll-seconds 1 \
    >"$work/operator.log" 2>&1 < /dev/null &
  echo $! > "$work/operator.pid"
fi
echo "operator running (log: $work/operator.log)"

say "Waiting until both examples are Ready"
kubectl -n demo wait --for=condition=Ready --timeout=180s customimage/web-base customimage/worker-base
kubectl -n demo get customimages

say "Sharing web-base to ECS and with an account"
kubectl -n demo patch customimage web-base --type=merge \
  -p '{"spec":{"shareToEcs":true,"sharedAccounts":["5555666677778888"]}}'
kubectl -n demo wait --for=jsonpath='{.status.inShare}'=true --timeout=120s customimage/web-base
kubectl -n demo wait --for=condition=Ready --timeout=120s customimage/web-base
kubectl -n demo get customimage web-base
uid="$(kubectl -n demo get customimage web-base -o jsonpath='{.metadata.uid}')"
image="$(kubectl -n demo get customimage web-base -o jsonpath='{.status.imageId}')"
mark="$(curl -s "$emulator/admin/audit" | python3 -c 'import json,sys; print(json.load(sys.stdin)[-1]["seq"])')"

say "Deleting web-base (UID $uid, image $image)"
kubectl -n demo get customimage web-base -o json \
  | python3 -c 'import json,sys; [print("  %-11s %-5s %-16s %s" % (c["type"], c["status"], c["reason"], c["message"])) for c in json.load(sys.stdin)["status"]["conditions"]]'
kubectl -n demo delete customimage web-base --wait=true --timeout=120s

kill "$watch_pid" 2>/dev/null || true
say "web-base's conditions, change by change"
awk 'NF && $0 != last { print "  " $0; last = $0 }' "$work/transitions.log"

say "What the operator told SWAS while deleting (emulator audit log)"
curl -s "$emulator/admin/audit?since=$mark" | python3 -c '
import json, sys
for e in json.load(sys.stdin):
    p = e["params"]
    detail = " ".join(f"{k}={p[k]}" for k in ("ImageId", "ImageIds", "Operation") if k in p)
    token = f" ClientToken={e['"'"'clientToken'"'"']}" if e.get("clientToken") else ""
    print(f"  {e['"'"'action'"'"']:<32} {detail}{token} -> {e['"'"'status'"'"']} {e['"'"'outcome'"'"']}")
'
echo
echo "The object's UID was $uid: DeleteCustomImages carried it as ClientToken."

say "Events"
kubectl -n demo get events --sort-by=.lastTimestamp \
  -o custom-columns=OBJECT:.regarding.name,TYPE:.type,REASON:.reason,NOTE:.note 2>/dev/null \
  || kubectl -n demo get events --sort-by=.lastTimestamp

say "Still running"
echo "export KUBECONFIG=$KUBECONFIG PATH=$bin:\$PATH"
echo "make demo-down stops the operator, the emulator and the control plane."
