# swas-image-operator: the two commands a new user runs are `make demo` and `make test`.
# Everything built lands under target/ (Rust, the SDK virtualenv); nothing built is committed.

CARGO ?= cargo
CLUSTER_DIR ?= $(CURDIR)/target/cluster
export CARGO_TERM_COLOR ?= never

.PHONY: help test fmt-check clippy unit sdk-crosscheck emulator-sdk demo build \
	controlplane cluster-up cluster-down demo-down manifests chaos bench

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

build: ## Build the operator binary
	$(CARGO) build --locked

test: fmt-check clippy controlplane unit sdk-crosscheck emulator-sdk ## Every test

fmt-check: ## rustfmt must have nothing to change
	$(CARGO) fmt --check

clippy: ## Lints, warnings are errors
	$(CARGO) clippy --locked --all-targets -- -D warnings

unit: ## Unit and integration tests (integration tests start their own control plane)
	$(CARGO) test --locked

chaos: controlplane ## Full chaos run: 300 resources, operator kills, SWAS faults (CHAOS_SEED=N)
	$(CARGO) test --locked --release --test chaos -- --ignored --nocapture chaos_full

emulator-sdk: ## The official Python SDK against the SWAS emulator
	bash tests/emulator_sdk/run.sh

controlplane: ## Build kube-apiserver, etcd, kubectl and helm from Go modules (cached)
	@bash tests/controlplane/build.sh >/dev/null

cluster-up: controlplane ## Start etcd + kube-apiserver on loopback; prints the KUBECONFIG to export
	@bash tests/controlplane/cluster.sh up $(CLUSTER_DIR)

cluster-down: ## Stop the control plane started by cluster-up
	@bash tests/controlplane/cluster.sh down $(CLUSTER_DIR)

sdk-crosscheck: ## Sign the same requests as the official Python SDK; signatures must match
	bash tests/sdk/crosscheck.sh

bench: controlplane ## Benchmarks at scale and under a quota (BENCH_N=1000, BENCH_QUOTA=20)
	$(CARGO) bench --locked --bench operator

manifests: ## Regenerate crds/ from the Rust types and deploy/operator.yaml from the chart
	$(CARGO) run --quiet -- crd > crds/customimage.yaml
	cp crds/customimage.yaml charts/swas-image-operator/crds/customimage.yaml
	bash deploy/render.sh > deploy/operator.yaml

demo: ## Control plane + SWAS emulator + operator: a CustomImage created, shared, deleted
	@bash tests/demo/demo.sh

demo-down: ## Stop what `make demo` started
	@bash tests/demo/down.sh
