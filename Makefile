# Greenroom build, test and release targets. The README documents them:
#
#   make dev     the whole stack in one process on the embedded store
#   make test    tier 1: Go only, fresh machine (race detector on)
#   make e2e     tier 2: DynamoDB Local contract tests, sam validate/lint/build
#                (.ci/e2e.sh installs what it needs)
#   make bench   figures, never pass/fail: bootstrap sizes, store contention,
#                join rushes, chat fan-out and $default throughput (infra/bench),
#                the SFU, approve -> first video frame at a viewer
#   make sim     capacity and cost: every scenario in infra/sim/scenarios through
#                the simulation (SIM_PRICES=eu-west-1 for another region's prices)
#   make lint    go vet, staticcheck, gofmt, go mod tidy check
#   make build   every Lambda bootstrap into bin/<LogicalId>/
#   make worker-binaries  bin/sfuworker and bin/turnserver, as in their Dockerfiles
#   make images  the SFU worker and TURN images (docker; IMAGE_REPO, IMAGE_TAG)
#   make clean   remove build output (never the dev data in .greenroom/)
#
# SAM builds each function by calling `make build-<LogicalId>` with
# ARTIFACTS_DIR set (template.yaml: Metadata: BuildMethod: makefile).

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-builtin-rules

GO ?= go
# Extra flags for `make dev`, e.g. make dev ARGS='--addr 127.0.0.1:9090'.
ARGS ?=
STATICCHECK_VERSION := v0.8.2

# Lambda functions, one line each: <LogicalId in template.yaml>:<directory
# under functions/>. Each gets a build-<LogicalId> target that SAM calls, and
# `make bench` reports each bootstrap's size. Functions in nested templates
# (infra/*.yaml) point their CodeUri at the repository root too, so SAM runs
# this Makefile for them as well.
LAMBDAS := ApiFunction:api
LAMBDAS += WsFunction:ws
LAMBDAS += SchedulerFunction:scheduler

# The one way a Lambda is built: static, arm64 (Graviton), provided.al2023,
# no RPC shim (lambda.norpc), no local paths or symbol tables in the binary.
# $(1) is the directory under functions/, $(2) the output directory.
lambda_build = mkdir -p $(2) && GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc \
	-trimpath -ldflags='-s -w' -o $(2)/bootstrap ./functions/$(1)

lambda_id = $(word 1,$(subst :, ,$(1)))
lambda_dir = $(word 2,$(subst :, ,$(1)))
LAMBDA_IDS := $(foreach l,$(LAMBDAS),$(call lambda_id,$(l)))

# build-<LogicalId>: SAM passes ARTIFACTS_DIR; by hand it defaults to bin/<LogicalId>.
define lambda_rule
.PHONY: build-$(call lambda_id,$(1))
build-$(call lambda_id,$(1)):
	$$(call lambda_build,$(call lambda_dir,$(1)),$$(or $$(ARTIFACTS_DIR),bin/$(call lambda_id,$(1))))
endef
$(foreach l,$(LAMBDAS),$(eval $(call lambda_rule,$(l))))

.PHONY: help dev test e2e bench bench-sizes bench-store lint build clean sim

help:
	@echo 'targets: dev test e2e bench sim lint build clean worker-binaries images images-push $(addprefix build-,$(LAMBDA_IDS))'

dev:
	$(GO) run ./infra/local $(ARGS)

# Fuzz targets' seed corpora (testdata/fuzz/...) run as plain tests here.
test:
	$(GO) test -race -count=1 -timeout 20m ./...

# Capacity and cost (infra/sim): seconds per scenario, no network.
SIM_PRICES ?= us-east-1
sim:
	$(GO) run ./infra/sim -all infra/sim/scenarios -prices $(SIM_PRICES)

# All steps, or some: make e2e E2E_STEPS='cfn-lint sam-build' (.ci/e2e.sh --list).
E2E_STEPS ?=
e2e:
	bash .ci/e2e.sh $(E2E_STEPS)

build: $(addprefix build-,$(LAMBDA_IDS))

lint:
	@echo '== go vet'
	$(GO) vet ./...
	@echo '== staticcheck $(STATICCHECK_VERSION)'
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	@echo '== gofmt -l'
	@files=$$(find . -name '*.go' -not -path './.git/*' -not -path '*/testdata/*' \
		-not -path '*/node_modules/*' -not -path './.aws-sam/*' -print); \
	unformatted=$$( [ -z "$$files" ] || gofmt -l $$files ); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	@echo '== go mod tidy -diff'
	@$(GO) mod tidy -diff || { echo 'go.mod/go.sum are not tidy: run go mod tidy'; exit 1; }

# Figures, never pass/fail timings: bootstrap sizes, then infra/bench's
# store contention (embedded, then DynamoDB Local, which the script installs
# and starts on 127.0.0.1), then chat fan-out and $default throughput over
# real WebSockets to the local runner started in-process. Every load loop
# is bounded in count and time; `bin/bench store -h` (fanout, throughput)
# lists the knobs.
bench: bench-sizes bench-store bench-live bench-sfu bench-media

.PHONY: bench-bin bench-live bench-sfu bench-media
BENCH_BIN := bin/bench

bench-bin:
	@mkdir -p $(dir $(BENCH_BIN))
	@$(GO) build -o $(BENCH_BIN) ./infra/bench

# Each bootstrap built exactly as SAM builds it, then measured.
bench-sizes:
	@echo '== Lambda bootstrap sizes (linux/arm64, -trimpath -s -w)'
	@out=$$(mktemp -d); trap 'rm -rf "$$out"' EXIT; \
	for id in $(LAMBDA_IDS); do \
		$(MAKE) --no-print-directory -s build-$$id ARTIFACTS_DIR="$$out/$$id"; \
		bytes=$$(stat -c %s "$$out/$$id/bootstrap"); \
		awk -v id="$$id" -v b="$$bytes" 'BEGIN { printf "bootstrap %-24s %10d bytes  %7.2f MiB\n", id, b, b / 1048576 }'; \
	done

bench-store: bench-bin
	@$(BENCH_BIN) store
	@bash .ci/dynamodb-local.sh run -- $(BENCH_BIN) store -dynamodb
	@bash .ci/dynamodb-local.sh run -- $(BENCH_BIN) rush -dynamodb
	@bash .ci/dynamodb-local.sh run -- $(BENCH_BIN) crowd -dynamodb

# rush: 50 and 200 members joining a live session at once (join to first
# state, members dropped); crowd: 50 and 200 members joining, switching
# devices, raising hands and upvoting one question at once (p50/p99,
# refusals, lost updates; with -dynamodb in bench-store, the WCU and RCU
# each message type consumed); fanout and throughput: a full session's
# messages.
bench-live: bench-bin
	@$(BENCH_BIN) rush
	@$(BENCH_BIN) crowd
	@$(BENCH_BIN) fanout
	@$(BENCH_BIN) throughput

# The SFU: the forwarding layer alone, then the worker with real pion
# peers (CPU and allocations per forwarded packet, memory per subscriber,
# join-to-first-packet latency and the worker's CPU per join) for 1 video
# publisher → 20 and → 50 subscribers and 5 audio publishers → 50, and
# the whole forwarding path through real sockets (testing.AllocsPerRun).
# docs/sfu.md has the figures.
bench-sfu:
	@echo '== SFU forwarding layer'
	@$(GO) test -run '^$$' -bench Fanout -benchtime 20000x ./sfuworker/forward | grep -E '^Benchmark'
	@echo '== SFU worker'
	@$(GO) test -run '^$$' -bench . -benchtime 1x -timeout 10m ./sfuworker/sfu | grep -E '^Benchmark'

# Approve -> first video frame at a viewer, rounds of two members taking
# turns on a primetime stage: pion peers through the local runner (first
# keyframe received), then the web client in headless Chromium (first
# frame decoded; web/test/run.sh installs Chromium and playwright-core).
bench-media: bench-bin
	@$(BENCH_BIN) media
	@echo '== media through the web client (headless Chromium)'
	@log=$$(mktemp); trap 'rm -f "$$log"' EXIT; \
	if bash web/test/run.sh bench.mjs >"$$log" 2>&1; then sed -n 's/^# \(media approve\|round \)/\1/p' "$$log"; \
	else tail -n 40 "$$log"; exit 1; fi

# The SFU worker and the TURN server: static Linux binaries, built here
# exactly as their Dockerfiles build them (the Dockerfiles run this target
# with their target platform's WORKER_GOOS/WORKER_GOARCH). By hand they land
# in bin/ for this machine's architecture; `make e2e` starts each with
# --help (.ci/e2e.sh, step worker-binaries).
WORKER_CMDS ?= sfuworker turnserver
WORKER_GOOS ?= linux
WORKER_GOARCH ?= $(shell $(GO) env GOARCH)
WORKER_BIN ?= bin

.PHONY: worker-binaries images images-push
worker-binaries:
	@mkdir -p $(WORKER_BIN)
	@for c in $(WORKER_CMDS); do \
		echo "go build $$c ($(WORKER_GOOS)/$(WORKER_GOARCH)) -> $(WORKER_BIN)/$$c"; \
		GOOS=$(WORKER_GOOS) GOARCH=$(WORKER_GOARCH) CGO_ENABLED=0 $(GO) build -trimpath -ldflags='-s -w' \
			-o $(WORKER_BIN)/$$c ./$$c/cmd/$$c; \
	done

# Container images of both (docker with BuildKit; never part of test or
# e2e, which run without a Docker engine). IMAGE_REPO is the registry
# prefix, e.g. 123456789012.dkr.ecr.eu-west-1.amazonaws.com/greenroom
# (README "Deploy to AWS"); the images are $(IMAGE_REPO)/sfuworker:$(IMAGE_TAG)
# and $(IMAGE_REPO)/turnserver:$(IMAGE_TAG). The platform matches the
# template's CpuArchitecture parameters (ARM64 by default).
IMAGE_REPO ?= greenroom
IMAGE_TAG ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo dev)
IMAGE_PLATFORM ?= linux/arm64

images:
	@command -v docker >/dev/null 2>&1 || { echo 'make images needs docker (with BuildKit); see README "Deploy to AWS"'; exit 1; }
	DOCKER_BUILDKIT=1 docker build --platform $(IMAGE_PLATFORM) -f sfuworker/Dockerfile -t $(IMAGE_REPO)/sfuworker:$(IMAGE_TAG) .
	DOCKER_BUILDKIT=1 docker build --platform $(IMAGE_PLATFORM) -f turnserver/Dockerfile -t $(IMAGE_REPO)/turnserver:$(IMAGE_TAG) .
	@echo 'SfuWorkerImage=$(IMAGE_REPO)/sfuworker:$(IMAGE_TAG) TurnServerImage=$(IMAGE_REPO)/turnserver:$(IMAGE_TAG)'

# Push what `make images` built (log in to the registry first).
images-push:
	docker push $(IMAGE_REPO)/sfuworker:$(IMAGE_TAG)
	docker push $(IMAGE_REPO)/turnserver:$(IMAGE_TAG)

clean:
	rm -rf bin/ dist/ .aws-sam/
