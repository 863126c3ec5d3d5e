#!/usr/bin/env bash
# Renders the Helm chart into the plain manifests of deploy/operator.yaml (namespace
# swas-system, default values). `make manifests` runs it; a test checks the file is current.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
bin="$(bash "$repo/tests/controlplane/build.sh")"
{
  echo "# Generated from charts/swas-image-operator by deploy/render.sh; do not edit."
  echo "# Apply with: kubectl apply --server-side -f deploy/operator.yaml"
  echo "---"
  echo "apiVersion: v1"
  echo "kind: Namespace"
  echo "metadata:"
  echo "  name: swas-system"
  echo "  labels:"
  echo "    pod-security.kubernetes.io/enforce: restricted"
  "$bin/helm" template swas-image-operator "$repo/charts/swas-image-operator" \
    --namespace swas-system --include-crds
}
