#!/usr/bin/env bash
# Starts a real etcd and kube-apiserver on loopback, the way controller-runtime's envtest does,
# for the tests and the demo. Usage:
#   cluster.sh run DIR          supervise both in the foreground; Ctrl-C or SIGTERM stops both
#   cluster.sh up DIR           start `run` in the background and wait until it is ready
#   cluster.sh down DIR         stop a cluster started with `up`
#   cluster.sh user DIR NAME [GROUP...]
#                               mint a client certificate for NAME in GROUPs and write
#                               DIR/users/NAME.kubeconfig (lower privilege, for RBAC tests)
#   cluster.sh restart-apiserver DIR
#                               stop and start kube-apiserver only (etcd keeps its data)
# DIR/kubeconfig is the admin (system:masters) kubeconfig; DIR/ready appears once the API
# answers; logs are DIR/etcd.log and DIR/apiserver.log.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cmd="${1:?usage: cluster.sh run|up|down|user|restart-apiserver DIR}"
dir="$(mkdir -p "${2:?DIR is required}" && cd "$2" && pwd)"
START_TIMEOUT="${CONTROLPLANE_START_TIMEOUT:-120}"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

b64() { base64 -w0 < "$1"; }

ca() { # ca NAME: a self-signed ECDSA P-256 CA
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 7 \
    -subj "/O=swas-image-operator/CN=$1" -keyout "$dir/pki/$1.key" -out "$dir/pki/$1.crt" \
    2>/dev/null
}

leaf() { # leaf CA NAME SUBJECT EXT: an ECDSA P-256 certificate signed by CA
  local ca="$1" name="$2" subject="$3" ext="$4"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "$subject" \
    -keyout "$dir/pki/$name.key" -out "$dir/pki/$name.csr" 2>/dev/null
  openssl x509 -req -in "$dir/pki/$name.csr" -CA "$dir/pki/$ca.crt" -CAkey "$dir/pki/$ca.key" \
    -CAcreateserial -days 7 -extfile <(printf '%s\n' "$ext") -out "$dir/pki/$name.crt" 2>/dev/null
}

kubeconfig() { # kubeconfig NAME FILE: a kubeconfig for the client certificate NAME
  cat > "$2" <<KUBECONFIG
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: https://127.0.0.1:$(cat "$dir/apiserver.port")
    certificate-authority-data: $(b64 "$dir/pki/serving-ca.crt")
users:
- name: $1
  user:
    client-certificate-data: $(b64 "$dir/pki/$1.crt")
    client-key-data: $(b64 "$dir/pki/$1.key")
contexts:
- name: local
  context: {cluster: local, user: $1}
current-context: local
KUBECONFIG
}

user() { # user NAME GROUP...: a client certificate and kubeconfig
  local name="$1"; shift
  local subject="/CN=$name"
  for group in "$@"; do subject="/O=$group$subject"; done
  mkdir -p "$dir/users"
  leaf client-ca "$name" "$subject" "extendedKeyUsage=clientAuth"
  kubeconfig "$name" "$dir/users/$name.kubeconfig"
  echo "$dir/users/$name.kubeconfig"
}

certificates() {
  mkdir -p "$dir/pki"
  ca serving-ca
  ca client-ca
  leaf serving-ca apiserver "/CN=localhost" \
    "subjectAltName=DNS:localhost,IP:127.0.0.1
extendedKeyUsage=serverAuth"
  leaf client-ca admin "/O=system:masters/CN=admin" "extendedKeyUsage=clientAuth"
  openssl ecparam -name prime256v1 -genkey -noout -out "$dir/pki/sa.key" 2>/dev/null
  openssl ec -in "$dir/pki/sa.key" -pubout -out "$dir/pki/sa.pub" 2>/dev/null
}

start_apiserver() {
  local port; port="$(cat "$dir/apiserver.port")"
  "$BIN/kube-apiserver" \
    --etcd-servers="http://127.0.0.1:$(cat "$dir/etcd.port")" \
    --cert-dir="$dir/pki" \
    --tls-cert-file="$dir/pki/apiserver.crt" --tls-private-key-file="$dir/pki/apiserver.key" \
    --secure-port="$port" --bind-address=127.0.0.1 --advertise-address=127.0.0.1 \
    --service-cluster-ip-range=10.0.0.0/24 --allow-privileged=true \
    --authorization-mode=RBAC --disable-admission-plugins=ServiceAccount \
    --endpoint-reconciler-type=none \
    --service-account-issuer="https://127.0.0.1:$port/" \
    --service-account-key-file="$dir/pki/sa.pub" \
    --service-account-signing-key-file="$dir/pki/sa.key" \
    --client-ca-file="$dir/pki/client-ca.crt" \
    >>"$dir/apiserver.log" 2>&1 &
  echo $! > "$dir/apiserver.pid"
}

wait_ready() {
  local deadline=$((SECONDS + START_TIMEOUT))
  until "$BIN/kubectl" --kubeconfig "$dir/kubeconfig" get namespace default >/dev/null 2>&1; do
    if [ $SECONDS -ge $deadline ]; then
      echo "kube-apiserver not ready after ${START_TIMEOUT}s; see $dir/apiserver.log" >&2
      return 1
    fi
    if ! kill -0 "$(cat "$dir/apiserver.pid")" 2>/dev/null; then
      echo "kube-apiserver exited; see $dir/apiserver.log" >&2
      tail -20 "$dir/apiserver.log" >&2
      return 1
    fi
    sleep 0.5
  done
}

stop_pid() { # stop_pid FILE: TERM, then KILL after 10 s
  local pid; pid="$(cat "$1" 2>/dev/null)" || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
}

run() {
  rm -f "$dir/ready"
  BIN="$("$here/build.sh")"
  certificates
  free_port > "$dir/etcd.port"
  free_port > "$dir/etcd-peer.port"
  free_port > "$dir/apiserver.port"
  local etcd="http://127.0.0.1:$(cat "$dir/etcd.port")" peer
  peer="http://127.0.0.1:$(cat "$dir/etcd-peer.port")"
  # A dying test binary sends its stop signal once per thread, so more may come while both
  # are being stopped: the cleanup ignores them, or a second one would cut it short.
  trap 'trap "" INT TERM; stop_pid "$dir/apiserver.pid"; stop_pid "$dir/etcd.pid"
        rm -f "$dir/ready"' EXIT
  trap 'exit 0' INT TERM
  "$BIN/etcd" --name default --data-dir "$dir/etcd-data" --unsafe-no-fsync \
    --listen-client-urls "$etcd" --advertise-client-urls "$etcd" \
    --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
    --initial-cluster "default=$peer" >>"$dir/etcd.log" 2>&1 &
  echo $! > "$dir/etcd.pid"
  start_apiserver
  kubeconfig admin "$dir/kubeconfig"
  wait_ready
  echo "$BIN" > "$dir/bin"
  touch "$dir/ready"
  echo "control plane ready: export KUBECONFIG=$dir/kubeconfig"
  # Supervise: stop when either process ends or when told to. A restarted apiserver gets a
  # new pid, so wait on etcd and poll the apiserver.
  while kill -0 "$(cat "$dir/etcd.pid")" 2>/dev/null; do
    if [ -f "$dir/restarting" ] || kill -0 "$(cat "$dir/apiserver.pid")" 2>/dev/null; then
      sleep 1 & wait $!
    else
      echo "kube-apiserver exited" >&2
      exit 1
    fi
  done
}

case "$cmd" in
  run) run ;;
  up)
    if [ -f "$dir/supervisor.pid" ] && kill -0 "$(cat "$dir/supervisor.pid")" 2>/dev/null; then
      echo "export KUBECONFIG=$dir/kubeconfig PATH=$(cat "$dir/bin"):\$PATH"
      exit 0
    fi
    "$here/build.sh" >/dev/null
    setsid "$0" run "$dir" >"$dir/supervisor.log" 2>&1 < /dev/null &
    echo $! > "$dir/supervisor.pid"
    deadline=$((SECONDS + START_TIMEOUT + 30))
    until [ -f "$dir/ready" ]; do
      if ! kill -0 "$(cat "$dir/supervisor.pid")" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
        echo "control plane failed to start:" >&2
        cat "$dir/supervisor.log" >&2
        exit 1
      fi
      sleep 0.5
    done
    echo "export KUBECONFIG=$dir/kubeconfig PATH=$(cat "$dir/bin"):\$PATH"
    ;;
  down)
    stop_pid "$dir/supervisor.pid"
    rm -f "$dir/supervisor.pid"
    ;;
  user)
    BIN="$(cat "$dir/bin")"
    shift 2
    user "$@"
    ;;
  restart-apiserver)
    BIN="$(cat "$dir/bin")"
    touch "$dir/restarting"
    stop_pid "$dir/apiserver.pid"
    start_apiserver
    wait_ready
    rm -f "$dir/restarting"
    ;;
  *) echo "unknown command $cmd" >&2; exit 2 ;;
esac
