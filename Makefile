# kinflow: the two commands a newcomer needs are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
GO ?= go
SERVICES := scripts/services.sh

.PHONY: test demo services services-stop services-status unit vet bench bench-e2e fuzz clean lambda

# MODULES: the runtime's module (the root) and the CDK app's own (cdk/), so that building the consumer or the Lambda
# never resolves the CDK's modules.
MODULES := . cdk

## test: start the local services (cached installs) and run every test of both modules, unit and integration.
test: services vet
	eval "$$($(SERVICES) env)" && for m in $(MODULES); do \
	  KINFLOW_REQUIRE_SERVICES=all $(GO) -C $$m test -count=1 -timeout 30m ./... || exit 1; \
	done

## demo: the main job on the local default: services, log group + subscription, synthetic flow logs, kinflow, then
## the security console on the result (http://127.0.0.1:8080/ unless KINFLOW_CONSOLE_ADDR says otherwise; Ctrl-C ends it).
demo: services
	eval "$$($(SERVICES) env)" && $(GO) run ./demo -moto "$$KINFLOW_MOTO_URL" -sink-url "$$KINFLOW_ES_URL" \
	  -console-addr "$${KINFLOW_CONSOLE_ADDR:-127.0.0.1:8080}"

## services: install (first run only) and start Elasticsearch, OpenSearch, moto, kinesalite and dynalite, and install
## Chromium (Debian's package) for the browser tests.
services:
	$(SERVICES) start

services-stop:
	$(SERVICES) stop

services-status:
	$(SERVICES) status

## unit: the tests that need no service: under -short every integration test skips, running services or not.
unit:
	for m in $(MODULES); do $(GO) -C $$m test -count=1 -short ./... || exit 1; done

vet:
	for m in $(MODULES); do $(GO) -C $$m vet ./... || exit 1; done

## bench: the hot-path benchmarks, each beside its plain reference (see BENCHMARKS.md).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 ./internal/... ./aggregate/

## bench-e2e: the load test: synthetic records -> kinesalite -> consumer run -> Elasticsearch (see BENCHMARKS.md).
bench-e2e: services
	eval "$$($(SERVICES) env)" && KINFLOW_REQUIRE_SERVICES=all $(GO) test -run '^$$' -bench EndToEnd -benchtime 1x -count 3 ./consumer

## fuzz: run each fuzz target for FUZZTIME (default 30s).
FUZZTIME ?= 30s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

clean: services-stop
	rm -rf .cache bin dist cdk.out

## lambda: bootstrap for provided.al2023 (arm64 and amd64), -tags lambda.norpc, in reproducible zips under dist/.
LAMBDA_ARCHES ?= arm64 amd64
lambda:
	@for arch in $(LAMBDA_ARCHES); do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch $(GO) build -tags lambda.norpc -trimpath -buildvcs=false \
	    -ldflags='-s -w -buildid=' -o dist/lambda-$$arch/bootstrap ./lambda || exit 1; \
	  $(GO) run ./scripts/zipbootstrap -o dist/lambda-$$arch.zip dist/lambda-$$arch/bootstrap || exit 1; \
	  sha256sum dist/lambda-$$arch.zip; \
	done
