# swas-image-operator: the two commands a new user runs are `make demo` and `make test`.
# Everything built lands under target/ (Rust, the SDK virtualenv); nothing built is committed.

CARGO ?= cargo
export CARGO_TERM_COLOR ?= never

.PHONY: help test fmt-check clippy unit sdk-crosscheck demo build

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

build: ## Build the operator binary
	$(CARGO) build --locked

test: fmt-check clippy unit sdk-crosscheck ## Every test: format, lints, unit and integration, SDK cross-check

fmt-check: ## rustfmt must have nothing to change
	$(CARGO) fmt --check

clippy: ## Lints, warnings are errors
	$(CARGO) clippy --locked --all-targets -- -D warnings

unit: ## Unit and integration tests
	$(CARGO) test --locked

sdk-crosscheck: ## Sign the same requests as the official Python SDK; signatures must match
	bash tests/sdk/crosscheck.sh

demo: ## The end-to-end demo (needs the control plane and the emulator; not there yet)
	@echo "make demo needs the SWAS emulator and the local control plane, which are not built yet."
	@echo "Until then: 'make test' exercises the SWAS client; see README.md."
