# Lift: make run (serve the demo on http://127.0.0.1:8080), make test.
GO       ?= go
BIN      := bin/lift
FUZZTIME ?= 10s

.PHONY: build run test test-deps vet fuzz bench clean

build:
	CGO_ENABLED=0 $(GO) build -o $(BIN) ./cmd/lift

run: build
	./$(BIN) serve --demo

# Installs what the tests need where it can (XGBoost for the interop
# tests), then runs every test, then each fuzz target briefly.
test: test-deps vet
	$(GO) test -count=1 -timeout 30m ./...
	CGO_ENABLED=1 $(GO) test -count=1 -race -run 'Concurrent' ./trainer
	./scripts/fuzz.sh $(FUZZTIME)

test-deps:
	./scripts/test-deps.sh

vet:
	CGO_ENABLED=0 $(GO) build ./...
	$(GO) vet ./...

clean:
	rm -rf bin
