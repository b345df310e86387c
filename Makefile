# Convenience targets. The CDK CLI works without them: npx cdk synth|deploy|destroy.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# On Node 20, jsii prints a 10-line banner on every synth and test run: "Node 20
# is end-of-life and not supported anymore by this software since 2026-10-30";
# the supported releases are 22 and 24. It is silenced here, and make says it
# once, in one line, instead.
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION ?= 20
export CDK_DISABLE_CLI_TELEMETRY ?= true
NODE_MAJOR := $(shell node --version 2>/dev/null | sed -e 's/^v//' -e 's/\..*//')
ifeq ($(NODE_MAJOR),20)
$(info note: Node 20 is end-of-life and not supported by the CDK CLI and jsii since 2026-10-30; use Node 22 or 24)
endif

# Debian packages the VTL differential tests render against (Apache Velocity
# 1.7, Jayway JsonPath); they compile a small Java harness, so a JDK (javac)
# is needed, not only a runtime.
DEBIAN_PACKAGES := velocity libjsonpath-java libjson-smart-java libcommons-lang-java
ifeq ($(shell command -v javac),)
DEBIAN_PACKAGES += default-jdk-headless
endif
# The dev page's browser test drives Debian's chromium through npm's
# playwright-core (Playwright's own browser download needs the internet).
DEBIAN_PACKAGES += chromium
# make lint runs shellcheck on the scripts (and actionlint on the workflows'
# run: blocks).
DEBIAN_PACKAGES += shellcheck

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

.PHONY: deps
deps: node_modules/.installed ## Install pinned npm tools, Go modules and the test's Debian packages
	go mod download
	@missing=$$(for p in $(DEBIAN_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian packages: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing >/dev/null; \
	  else \
	    echo "missing Debian packages: $$missing (run: sudo apt-get install $$missing)"; \
	    if [ -n "$$CI" ]; then exit 1; fi; \
	  fi; \
	fi

.PHONY: synth
synth: node_modules/.installed ## Synthesize the CloudFormation template into cdk.out/
	go mod download
	npx cdk synth --quiet
	@echo "template: cdk.out/WebSocketApi.template.json"

.PHONY: test
test: deps lint ## Run every test (go test ./..., and the example module's)
	go test ./...
	cd examples/whoami && go test ./...

.PHONY: lint
lint: ## gofmt, go vet, staticcheck; actionlint and shellcheck on the workflows and shell scripts
	@command -v shellcheck >/dev/null || { echo "make lint: shellcheck is not installed (apt-get install shellcheck; make deps does it as root)" >&2; exit 1; }
	@unformatted=$$(find . -name '*.go' -not -path './node_modules/*' -not -path './cdk*.out/*' -print0 | xargs -0 gofmt -l); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	go vet ./...
	go tool staticcheck ./...
	@# The example is a module of its own: vet and staticcheck it there.
	cd examples/whoami && go vet ./... && $$(cd ../.. && go tool -n staticcheck) ./...
	@# actionlint checks .github/workflows/*.yml, and runs shellcheck on their
	@# run: blocks; shellcheck checks every tracked shell script.
	go tool actionlint
	shellcheck .ci/run scripts/*.sh

.PHONY: review
BASE ?= main
review: node_modules/.installed ## Review report of the working tree against BASE (a git ref, default main): resources, IAM, code, cdk-nag, cfn-lint
	go run ./cmd/wsreview --base "$(BASE)"

.PHONY: snapshot
snapshot: ## Rewrite the template snapshot after an intended change
	go test ./test/ -run 'TestSnapshot$$' -update

.PHONY: deploy
deploy: node_modules/.installed ## Deploy with the current AWS credentials
	npx cdk deploy

.PHONY: destroy
destroy: node_modules/.installed ## Delete the stack (the table and user pool are retained by default)
	npx cdk destroy

# Only what the targets here create: the assemblies, bin/wslocal (bin/ too
# once empty) and the local run's state. Stop make dev first: a live run
# still needs its CA file in .wslocal.
.PHONY: clean
clean: ## Remove build output, bin/wslocal and the local run's state (.wslocal)
	rm -rf cdk.out cdk.dev.out cdk.bench.out .wslocal
	rm -f bin/wslocal
	@rmdir bin 2>/dev/null || true

# The host's architecture in CDK's words, so the local run can execute the
# functions' bootstraps natively.
DEV_ARCH := $(shell uname -m | sed -e 's/aarch64/arm64/' -e 's/amd64/x86_64/')
DEV_FLAGS ?=

.PHONY: dev
dev: node_modules/.installed ## Run the API on loopback: synthesize for this machine, then serve it
	@echo "make dev: synthesizing the app for this machine. The first run compiles the CDK's Go"
	@echo "bindings and the functions, which takes a few minutes (about 3 on 2 cores) with no"
	@echo "output; later runs take seconds."
	go mod download
	npx cdk synth --quiet -o cdk.dev.out -c lambdaArchitecture=$(DEV_ARCH)
	go build -o bin/wslocal ./cmd/wslocal
	bin/wslocal dev --assembly cdk.dev.out $(DEV_FLAGS)

# The bench's fan-out workers: one per core, 2 at least (an event source
# mapping's smallest MaximumConcurrency), 128 posts in flight together (16
# each at least). Each worker is a process; on 2 cores, 2 workers with 64
# in flight each delivered 1.34-1.38 times what 10 with 16 each did (the
# stack's defaults, sized for Lambda), in the same session.
BENCH_WORKERS := $(shell n=$$(nproc 2>/dev/null || echo 2); [ "$$n" -lt 2 ] && n=2; echo $$n)
BENCH_IN_FLIGHT := $(shell n=$$((128 / $(BENCH_WORKERS))); [ "$$n" -lt 16 ] && n=16; echo $$n)

.PHONY: bench
bench: node_modules/.installed ## Print benchmark figures: VTL rendering, Lambda invokes, @connections posts, the local run against a bare echo server, broadcasts to 1k/10k/100k connections
	go test -run '^$$' -bench . -benchmem ./vtl/ ./localrun/lambdaruntime/ ./localrun/gateway/
	@# postsPerSecond: the fan-out's budget is far above the local
	@# endpoint's capacity, so the runs without injected load measure the
	@# machine; wsbench sets the loaded runs' 429 limit below it.
	@# workerMaxConcurrency and maxInFlight: one worker per core (2 at
	@# least, the mapping's minimum), 128 posts in flight in all; see
	@# BENCH_WORKERS.
	npx cdk synth --quiet -o cdk.bench.out -c lambdaArchitecture=$(DEV_ARCH) \
	  -c throttlingRateLimit=100000 -c throttlingBurstLimit=100000 -c postsPerSecond=100000 \
	  -c workerMaxConcurrency=$(BENCH_WORKERS) -c maxInFlight=$(BENCH_IN_FLIGHT)
	go run ./cmd/wsbench --assembly cdk.bench.out

# Warm `npx cdk synth -q` of this app against the TypeScript twin of the same
# stack (../shared/anchors/ts-twin, copied to a temp dir and npm ci'd there):
# alternating runs, both medians and the ratio. RUNS=n for more runs.
.PHONY: bench-synth
bench-synth: node_modules/.installed ## Print warm synth medians: this Go app against the TypeScript twin, and the ratio
	go mod download
	scripts/bench-synth.sh
