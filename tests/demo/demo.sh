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
  # The cluster's etcd data outlives `make demo-down`, so the emulator keeps its world too.
  setsid "$operator" emulator --listen 127.0.0.1:0 --create-delay-ms 3000 \
    --state-file "$work/emulator-state.json" >"$work/emulator.log" 2>&1 < /dev/null &
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
# Watch web-base until the end (every change, as the apiserver streams it); printed later.
images="/apis/swas.image-operator.dev/v1alpha1/namespaces/demo/customimages"
kubectl get --raw "$images?watch=1&fieldSelector=metadata.name%3Dweb-base" \
  > "$work/transitions.json" 2>/dev/null &
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
python3 -c '
import json, sys
last = None
for line in open(sys.argv[1]):
    try:
        event = json.loads(line)
    except ValueError:
        continue
    conditions = event["object"].get("status", {}).get("conditions", [])
    shown = " ".join("%s=%s(%s)" % (c["type"], c["status"], c["reason"]) for c in conditions)
    if shown and shown != last:
        print("  " + shown)
        last = shown
' "$work/transitions.json"

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
  -o custom-columns=OBJECT:.involvedObject.name,TYPE:.type,REASON:.reason,MESSAGE:.message

say "Still running"
echo "export KUBECONFIG=$KUBECONFIG PATH=$bin:\$PATH"
echo "make demo-down stops the operator, the emulator and the control plane."
