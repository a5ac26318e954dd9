# Audience Bridge. `make run` starts the console with demo data; `make test`
# runs every check and the test suite on SQLite and on PostgreSQL.

GO      ?= go
BIN     := bin/audiencebridge
PKGS    := ./...

.PHONY: run build test generate check-generated assets check-assets vet test-sqlite test-postgres bench fuzz clean

run: build
	./$(BIN) serve --demo

build:
	$(GO) build -o $(BIN) ./cmd/audiencebridge

generate:
	$(GO) tool templ generate

# Fails when a .templ file was changed without regenerating its Go code.
check-generated:
	@tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	cp -r views go.mod go.sum "$$tmp/"; \
	(cd "$$tmp" && $(GO) tool templ generate >/dev/null 2>&1) || { echo "templ generate failed"; exit 1; }; \
	stale=0; for f in $$(cd "$$tmp" && find views -name '*_templ.go'); do \
	  cmp -s "$$tmp/$$f" "$$f" || { echo "stale generated code: $$f (run make generate and commit)"; stale=1; }; \
	done; exit $$stale

# htmx is installed from npm (pinned by package-lock.json) and embedded from
# static/vendor; the committed copy must be the locked package's file.
# axe-core, pinned the same way, is read from node_modules by the browser
# tests only, which is why the test targets need the install.
node_modules/.package-lock.json: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error

assets: node_modules/.package-lock.json
	cp node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js

check-assets: node_modules/.package-lock.json
	@node -e 'const v=require("./package-lock.json").packages["node_modules/htmx.org"].version; if(!v.startsWith("2.")){console.error("htmx must be 2.x, lock file has "+v);process.exit(1)}'
	@cmp -s node_modules/htmx.org/dist/htmx.min.js static/vendor/htmx.min.js || { echo "static/vendor/htmx.min.js differs from the locked htmx.org package: run make assets"; exit 1; }

vet:
	$(GO) vet $(PKGS)

test-sqlite: node_modules/.package-lock.json
	$(GO) test -count=1 $(PKGS)

# Starts a throwaway PostgreSQL cluster unless AB_TEST_POSTGRES names one.
test-postgres: node_modules/.package-lock.json
	./.ci/with-postgres $(GO) test -count=1 $(PKGS)

test: check-generated check-assets vet test-sqlite test-postgres

# cmd/abbench on SQLite, a million rows and members, BENCH_REPEAT times: the
# recipient CSV import, the import sync and the export, each beside the
# sqlite3 shell (needs Debian's sqlite3: apt-get install -y sqlite3), then
# the console's pages; medians and ratios at the end, figures in
# bench/results.json. Then how the sync grows from BENCH_GROWTH members
# (bench/growth.json), and the Go benchmarks. It takes a quarter of an
# hour, which is why CI does not run it.
# The console's pages and the load run on PostgreSQL too: on
# AB_TEST_POSTGRES's server, else a throwaway cluster (skipped when
# PostgreSQL is not installed).
BENCH_REPEAT ?= 3
BENCH_GROWTH ?= 100000,1000000,5000000
bench:
	$(GO) run ./cmd/abbench --phase all --repeat $(BENCH_REPEAT)
	./.ci/with-postgres bash -c '$(GO) run ./cmd/abbench --phase pages --database "$$AB_TEST_POSTGRES" --out bench/pages-postgres.json && \
	  $(GO) run ./cmd/abbench --phase load --database "$$AB_TEST_POSTGRES" --out bench/load-postgres.json'
	$(GO) run ./cmd/abbench --growth $(BENCH_GROWTH) --baseline=false --out bench/growth.json
	$(GO) test -run '^$$' -bench . -benchmem $(PKGS)

# Runs every fuzz target of every package for FUZZTIME each. `make test`
# already runs their committed seed corpora as ordinary tests.
FUZZTIME ?= 15s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; \
	    $(GO) test $$pkg -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) || exit 1; \
	  done; \
	done

clean:
	rm -rf bin data
