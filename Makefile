# meridio-operator build, generation and tests. Run `make help` for the targets.
SHELL := /usr/bin/env bash -o pipefail
BIN := $(CURDIR)/bin
GO_TEST_ARGS ?=
CONTROLLER_GEN := go tool controller-gen
export KUBEBUILDER_ASSETS ?= $(BIN)

.PHONY: help
help: ## Show the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
IMAGE ?= meridio-operator:latest
# The reference operator's name for the image of make deploy.
IMG ?= $(IMAGE)
LDFLAGS := -X github.com/meridio-operator/meridio-operator/internal/cli.Version=$(VERSION)

.PHONY: build
build: ## Build bin/meridio-operator.
	go build -ldflags "$(LDFLAGS)" -o $(BIN)/meridio-operator .

.PHONY: image
image: ## Build the operator's OCI image (IMAGE) into dist/meridio-operator.tar with buildah, no Docker engine.
	hack/build-image.sh $(IMAGE) $(CURDIR)/dist/meridio-operator.tar $(VERSION)

.PHONY: generate
generate: ## Generate deep-copy code.
	$(CONTROLLER_GEN) object paths=./api/...

.PHONY: manifests
manifests: ## Generate CRDs, webhook configurations and RBAC into config/.
	$(CONTROLLER_GEN) crd paths=./api/... output:crd:artifacts:config=config/crd/bases
	$(CONTROLLER_GEN) webhook paths=./webhooks/... output:webhook:artifacts:config=config/webhook
	$(CONTROLLER_GEN) rbac:roleName=role paths=./controllers/... output:rbac:artifacts:config=config/rbac

TREE_STATE = { git status --porcelain -- api config; git diff -- api config; } | sha256sum

.PHONY: verify
verify: ## Fail when generated files are stale, or code is not gofmt/vet clean.
	@test -z "$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go'))" || { echo "gofmt needed:"; gofmt -l $$(git ls-files -co --exclude-standard '*.go'); exit 1; }
	go vet ./...
	@before=$$($(TREE_STATE)); $(MAKE) --no-print-directory generate manifests >/dev/null; \
	  test "$$before" = "$$($(TREE_STATE))" || { git status --short -- api config; echo "generated files were stale: review the regenerated files above and commit them"; exit 1; }

.PHONY: apiserver
apiserver: ## Build etcd and kube-apiserver from source into bin/ (once; about 6-10 minutes cold).
	hack/build-testenv.sh $(BIN)

.PHONY: testenv
testenv: apiserver ## Build etcd, kube-apiserver and Gitea (the test forge) from source into bin/ (once; about 15-20 minutes cold).
	hack/build-gitea.sh $(BIN)

.PHONY: test
test: testenv verify ## Run every test against a real API server built from source.
	go test $(GO_TEST_ARGS) ./...

.PHONY: bench
bench: testenv ## Run the benchmarks: render, cluster mode, git mode and a start with a backlog, a burst of 1,000 updates, a leader failover, on a real API server (about 12 minutes).
	go test -run '^$$' -bench . -benchmem $(GO_TEST_ARGS) ./render/...
	go test -run '^$$' -bench Converge -benchtime 1x -count 3 $(GO_TEST_ARGS) ./test/bench/ 2>/dev/null | grep -E '^(Benchmark|ok|FAIL)'
	go test -run '^$$' -bench SteadyState -benchtime 50x $(GO_TEST_ARGS) ./test/bench/ 2>/dev/null | grep -E '^(Benchmark|ok|FAIL)'
	go test -run '^$$' -bench GitFlowEdit -benchtime 1x $(GO_TEST_ARGS) ./test/bench/ 2>/dev/null | grep -E '^(Benchmark|ok|FAIL)'
	go test -run '^$$' -bench GitPullRequest -benchtime 1x $(GO_TEST_ARGS) ./test/bench/ 2>/dev/null | grep -E '^(Benchmark|ok|FAIL)'
	go test -run '^$$' -bench Backlog -benchtime 1x -v $(GO_TEST_ARGS) ./test/bench/ 2>/dev/null | grep -E '^(Benchmark|ok|FAIL)|round [0-9]+:|writes of round'
	go test -run '^$$' -bench Load -benchtime 1x $(GO_TEST_ARGS) ./test/bench/ 2>/dev/null | grep -E '^(Benchmark|ok|FAIL)'
	go test -run '^$$' -bench Failover -benchtime 1x $(GO_TEST_ARGS) ./test/bench/ 2>/dev/null | grep -E '^(Benchmark|ok|FAIL)'

FUZZTIME ?= 30s

.PHONY: fuzz
fuzz: testenv ## Fuzz the validation functions, the offline YAML reader, render and the API server's acceptance of the render, FUZZTIME each (the seeds under testdata/fuzz run in make test).
	go test -run '^$$' -fuzz '^FuzzValidate$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./api/v1alpha1
	go test -run '^$$' -fuzz '^FuzzReadYAML$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./internal/offline
	go test -run '^$$' -fuzz '^FuzzRender$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./render
	go test -run '^$$' -fuzz '^FuzzRenderAccepted$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 5s ./test/schema

MODE ?= git

.PHONY: run
run: build apiserver ## The GitOps loop on an embedded API server with examples/ (MODE=cluster: cluster mode).
	$(BIN)/meridio-operator run --local --sink=$(MODE) --apply examples $(RUN_ARGS)

# Deployment to the cluster of the current kubeconfig, from the kustomize bases of config/
# (built by the binary with the kustomize library): the reference operator's parameters.
NAMESPACE ?= meridio-operator-system
ENABLE_MUTATING_WEBHOOK ?= true
SINK ?= cluster
# Where the webhook certificate comes from: cert-manager or spire.
CERTS ?= cert-manager
DEPLOY_ARGS = --namespace=$(NAMESPACE) --image=$(IMG) --enable-mutating-webhook=$(ENABLE_MUTATING_WEBHOOK) --sink=$(SINK) --certificates=$(CERTS) \
	$(if $(GIT_URL),--git-url=$(GIT_URL)) $(if $(GIT_BRANCH),--git-branch=$(GIT_BRANCH)) $(if $(GIT_PATH),--git-path=$(GIT_PATH))

.PHONY: deploy undeploy install uninstall print-manifests
deploy: build ## Deploy the operator (NAMESPACE, IMG, ENABLE_MUTATING_WEBHOOK, SINK=cluster|git, CERTS=cert-manager|spire, GIT_URL, GIT_BRANCH, GIT_PATH) to the current kubeconfig's cluster.
	$(BIN)/meridio-operator deploy $(DEPLOY_ARGS)

undeploy: build ## Delete what make deploy applied (the same parameters).
	$(BIN)/meridio-operator deploy $(DEPLOY_ARGS) --delete

install: build ## Install the CRDs only.
	$(BIN)/meridio-operator deploy --crds-only

uninstall: build ## Delete the CRDs (and with them every Meridio resource).
	$(BIN)/meridio-operator deploy --crds-only --delete

print-manifests: build ## Print what make deploy would apply (the same parameters).
	@$(BIN)/meridio-operator deploy $(DEPLOY_ARGS) --print

.PHONY: e2e
e2e: ## Run the behaviour suite against the operator deployed in the current kubeconfig's cluster (NAMESPACE; git mode: E2E_GIT_URL, E2E_GIT_PATH).
	E2E=1 NAMESPACE=$(NAMESPACE) E2E_GIT_URL=$(E2E_GIT_URL) E2E_GIT_PATH=$(E2E_GIT_PATH) go test ./test/e2e -count=1 -v $(GO_TEST_ARGS)

# BUNDLE_VERSION is the semantic version of the bundle's ClusterServiceVersion.
BUNDLE_VERSION ?= 0.1.0

.PHONY: bundle
bundle: build ## Generate the OLM bundle into bundle/ (BUNDLE_VERSION, IMG); make test fails when the committed one is stale.
	$(BIN)/meridio-operator bundle --version=$(BUNDLE_VERSION) --image=$(IMG) --output-dir=bundle

.PHONY: chart
chart: ## Regenerate the Helm chart charts/meridio-operator from config/ (make test fails when it is stale).
	go test ./internal/deploy -run Test_chartUpToDate -count=1 -update
