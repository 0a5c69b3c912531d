# Lift: make run (serve the demo on http://127.0.0.1:8080), make test.
GO       ?= go
BIN      := bin/lift
# A count, not a duration: Go 1.26's fuzz coordinator can report a spurious
# "context deadline exceeded" when a duration runs out mid-execution.
FUZZTIME ?= 300000x

.PHONY: build run test test-deps vet fuzz bench clean

build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/lift

run: build
	./$(BIN) serve --demo

# Installs what the tests need where it can (XGBoost for the interop
# tests, PostgreSQL), then runs every test, then each fuzz target briefly.
# scripts/test.sh runs go test ./..., the -race run and the fuzz targets
# with a throwaway PostgreSQL cluster up (LIFT_TEST_POSTGRES), and stops the
# cluster afterwards even when a test fails.
test: test-deps vet
	GO=$(GO) FUZZTIME=$(FUZZTIME) ./scripts/test.sh

test-deps:
	./scripts/test-deps.sh

vet:
	CGO_ENABLED=0 $(GO) build ./...
	$(GO) vet ./...

clean:
	rm -rf bin
