# The two commands a newcomer needs:
#   make run    — the quickstart service (gatehouse serve --dev)
#   make test   — the whole test suite (what .ci/run calls)

GO ?= go

.PHONY: run test vet interop-deps bench

run:
	$(GO) run ./cmd/gatehouse serve --dev

# interop-deps installs the real OpenID provider and the independent JOSE
# implementation the JWT tests talk to (npm, pinned by package-lock.json).
interop-deps:
	npm ci --prefix test/interop --no-audit --no-fund --loglevel=error

vet:
	$(GO) vet ./...
	$(GO) mod tidy -diff
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi

test: interop-deps vet
	$(GO) test -count=1 -timeout 15m ./...
