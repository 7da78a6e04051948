"""Text generators behind one small interface: a local Hugging Face model, a GGUF file, or an HTTP endpoint.

A :class:`Generator` turns chat conversations (lists of ``{"role", "content"}`` messages, as
:meth:`neggen_lite.generation.prompts.Prompt.render` makes them) into one completion each. ``build_generator(spec)``
picks the backend from ``spec``:

* ``"smollm2"``, ``"qwen2.5-coder-1.5b"``, ... -- a model shipped inside PyPI packages, found on disk
  (:mod:`neggen_lite.generation.offline_models`); no download at run time;
* ``"path/to/model.gguf"`` -- a GGUF file, dequantised by transformers (needs the ``gguf`` package);
  the dequantised model is saved once under the cache (``$NEGGEN_CACHE/models/<name>``, default
  ``~/.cache/neggen_lite/models/<name>``) so later loads are much faster;
* ``"org/model"`` or ``"path/to/dir"`` -- a Hugging Face causal LM, loaded with ``local_files_only``
  unless downloads are allowed (``allow_download=True`` or env ``NEGGEN_ALLOW_DOWNLOAD=1``);
* ``"http://host:port/v1"`` optionally followed by ``"#model-name"`` -- an OpenAI-compatible server
  (e.g. vLLM); the API key is read from ``OPENAI_API_KEY`` when set.

``temperature == 0`` decodes greedily; ``temperature > 0`` samples, seeded by ``seed``.
"""
from __future__ import annotations

import atexit
import base64
import http.client
import json
import logging
import mimetypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

import torch

from ..core.paths import cache_generator, safe_name
from ..core.runtime import idle_cores, resolve_device
from ..core.safety import ExpectedError

log = logging.getLogger(__name__)

Conversation = list[dict]
#: End-of-turn tokens of common chat templates; those in a model's vocabulary also stop generation.
END_OF_TURN_TOKENS = ("<|im_end|>", "<end_of_turn>", "<|eot_id|>", "<|end|>", "<|endoftext|>", "<|eom_id|>")


class GenerationError(ExpectedError, RuntimeError):
    """A backend could not produce completions (model not found, server unreachable, ...)."""


@runtime_checkable
class Generator(Protocol):
    name: str  # stable id recorded in caches and manifests

    def generate(self, conversations: list[list[dict]], *, max_new_tokens: int = 96, seed: int = 0,
                 temperature: float = 0.0) -> list[str]:
        """One completion (assistant text only, stripped) per conversation."""
        ...


def cache_root() -> Path:
    """Root of neggen_lite's caches: ``$NEGGEN_CACHE`` or ``~/.cache/neggen_lite``."""
    return Path(os.environ.get("NEGGEN_CACHE") or Path.home() / ".cache" / "neggen_lite").expanduser()


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def _check_images(images, n: int) -> list | None:
    if images is None:
        return None
    images = list(images)
    if len(images) != n:
        raise ValueError(f"got {len(images)} image entries for {n} conversations (use None for no image)")
    return images if any(im is not None for im in images) else None


# --------------------------------------------------------------------------------------------------
# Hugging Face transformers (hub id, local directory or GGUF file)
# --------------------------------------------------------------------------------------------------

class TransformersGenerator:
    """A causal LM run with ``transformers``: chat template, batched generation with left padding.

    ``model`` is a hub id, a local directory, or a ``.gguf`` file (or a directory with ``gguf_file``).
    A GGUF checkpoint is dequantised on first load (slow) and saved as a plain float32 checkpoint under
    ``cache_dir`` (default ``cache_root()/models/<name>``); later loads read that copy. Weights are
    float32 on CPU and bfloat16 on CUDA unless ``dtype`` says otherwise. ``threads`` sets torch's
    intra-op thread count (None: the cores other processes leave idle, ``core.runtime.idle_cores``).
    ``generation_kwargs`` (e.g. ``repetition_penalty``) are passed to every ``generate`` call and appended
    to the default ``name``; by default decoding is plain greedy / plain temperature sampling (the offline
    Qwen models default to their upstream ``repetition_penalty=1.1``).
    """

    supports_images = False

    def __init__(self, model: str | os.PathLike, *, gguf_file: str | None = None, name: str | None = None,
                 device: str = "auto", batch_size: int = 8, threads: int | None = None, dtype: Any = None,
                 allow_download: bool | None = None, cache_dir: str | os.PathLike | None = None,
                 use_cache: bool = True, expected_source: dict | None = None, trust_remote_code: bool = False,
                 package_version: str | None = None, generation_kwargs: dict | None = None):
        torch.set_num_threads(int(threads) if threads else idle_cores())
        self.threads = torch.get_num_threads()
        self.batch_size = max(1, int(batch_size))
        self.device = self._resolve_device(device)
        default_dtype = torch.bfloat16 if self.device.type == "cuda" else torch.float32
        if dtype is None or dtype == "auto":
            dtype = default_dtype
        elif isinstance(dtype, str):
            if dtype not in DTYPES:
                raise GenerationError(f"dtype {dtype!r}: choose one of auto, {', '.join(DTYPES)}")
            dtype = getattr(torch, dtype)
        self.dtype = dtype
        self.allow_download = _env_flag("NEGGEN_ALLOW_DOWNLOAD") if allow_download is None else allow_download
        self.generation_kwargs = dict(generation_kwargs or {})
        self.package_version = package_version
        self.last_stats: dict[str, float] = {}

        src = Path(os.fspath(model)).expanduser()
        if gguf_file is None and src.suffix.lower() == ".gguf":  # existence is checked after the cache
            src, gguf_file = src.parent, src.name
        self.gguf_file = gguf_file
        if gguf_file is not None:
            self.source = str(src / gguf_file)
            base = Path(gguf_file).stem.lower()
        else:
            local = src.is_dir()
            self.source = str(src) if local else os.fspath(model)
            base = src.name if local else os.fspath(model)
        # non-default decoding changes the outputs, so it is part of the name unless a name is given
        # so is a weight precision other than the device's default (bf16 on CUDA, fp32 on CPU)
        self.name = (name or base + generation_suffix(self.generation_kwargs)) + dtype_suffix(dtype, self.device)
        self.cache_dir = Path(cache_dir) if cache_dir else cache_root() / "models" / _safe_name(base)

        t0 = time.perf_counter()
        if gguf_file is not None:
            self.model, self.tokenizer, self.loaded_from = self._load_gguf(
                src, gguf_file, use_cache, expected_source, trust_remote_code)
        else:
            self.model, self.tokenizer = self._load_pretrained(self.source, trust_remote_code)
            self.loaded_from = "pretrained"
        self.load_seconds = time.perf_counter() - t0
        self.model.to(self.device).eval()
        self._prepare_tokenizer()
        cfg = self.model.config
        self.model_type = getattr(cfg, "model_type", None)
        self.is_vision_model = hasattr(cfg, "vision_config")  # e.g. mllama (Llama-3.2-Vision), llava, qwen2_vl
        log.info("loaded %s from %s (%s) in %.1fs", self.name, self.source, self.loaded_from, self.load_seconds)

    # -- loading -------------------------------------------------------------------------------------
    @staticmethod
    def _resolve_device(device):
        """:func:`neggen_lite.core.runtime.resolve_device` (``None``/``auto``: CUDA when available)."""
        try:
            return resolve_device(device)
        except RuntimeError as exc:
            raise GenerationError(str(exc)) from exc

    def _placement(self) -> dict:
        # on a GPU, load the weights straight onto it (a large model need not fit in host memory twice)
        return {"device_map": str(self.device)} if self.device.type == "cuda" else {}

    def _load_pretrained(self, path: str, trust_remote_code: bool, local_only: bool | None = None, **kw):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        local_only = not self.allow_download if local_only is None else local_only
        opts = dict(local_files_only=local_only, trust_remote_code=trust_remote_code)
        try:
            tok = AutoTokenizer.from_pretrained(path, **opts, **kw)
            model = AutoModelForCausalLM.from_pretrained(path, dtype=self.dtype, **self._placement(), **opts, **kw)
        except (OSError, ValueError) as e:
            hint = ("" if self.allow_download or Path(path).exists() else
                    f" It is not in the local Hugging Face cache and downloads are off: run "
                    f"`huggingface-cli download {path}` on a machine with access, or pass allow_download=True "
                    f"(env NEGGEN_ALLOW_DOWNLOAD=1).")
            raise GenerationError(f"cannot load causal LM {path!r}: {e}.{hint}") from e
        return model, tok

    def _load_gguf(self, directory: Path, gguf_file: str, use_cache: bool, expected: dict | None,
                   trust_remote_code: bool):
        gguf_path = directory / gguf_file
        marker = self.cache_dir / "neggen_source.json"
        if use_cache and marker.is_file():
            try:
                recorded = json.loads(marker.read_text())
            except ValueError:
                recorded = None
            want = expected or _file_identity(gguf_path)
            if recorded and all(recorded.get(k) == v for k, v in want.items()):
                try:
                    model, tok = self._load_pretrained(str(self.cache_dir), trust_remote_code, local_only=True)
                    return model, tok, "cache"
                except GenerationError as e:
                    if not gguf_path.is_file():
                        raise
                    log.warning("cached model %s is unreadable (%s); rebuilding it", self.cache_dir, e)
            else:
                log.warning("cached model %s does not match %s; rebuilding it", self.cache_dir, gguf_path)
        if not gguf_path.is_file():
            raise GenerationError(f"GGUF file not found: {gguf_path}")
        try:
            import gguf  # noqa: F401
        except ImportError as e:
            raise GenerationError("loading a GGUF file needs the `gguf` package: pip install gguf") from e
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tok = AutoTokenizer.from_pretrained(str(directory), gguf_file=gguf_file)
        model = AutoModelForCausalLM.from_pretrained(str(directory), gguf_file=gguf_file, dtype=self.dtype,
                                                     trust_remote_code=trust_remote_code, **self._placement())
        # the weights are now plain tensors: forget the GGUF quantizer so the model can be saved and moved
        model.hf_quantizer = None
        for attr in ("quantization_config", "_pre_quantization_dtype"):
            if hasattr(model.config, attr):
                delattr(model.config, attr)
        if use_cache:
            try:
                self._save_cache(model, tok, expected or _file_identity(gguf_path))
            except OSError as e:  # a read-only or full disk only costs speed next time
                log.warning("could not cache the dequantised model in %s: %s", self.cache_dir, e)
        return model, tok, "gguf"

    def _save_cache(self, model, tok, identity: dict) -> None:
        self.cache_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.cache_dir.parent, prefix=f".{self.cache_dir.name}."))
        tmp.chmod(0o755)
        try:
            dtype = model.dtype
            if dtype != torch.float32:  # keep the dequantised values exactly: store float32
                model.to(torch.float32)
            model.save_pretrained(tmp)
            if dtype != torch.float32:
                model.to(dtype)
            tok.save_pretrained(tmp)
            (tmp / "neggen_source.json").write_text(json.dumps(identity, indent=1))
            if self.cache_dir.exists():
                shutil.rmtree(self.cache_dir)
            os.replace(tmp, self.cache_dir)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)

    def _prepare_tokenizer(self) -> None:
        tok = self.tokenizer
        self.has_chat_template = bool(getattr(tok, "chat_template", None))
        if not self.has_chat_template:
            log.warning("%s has no chat template (a base model?): prompts are rendered as plain "
                        "'Role: text' lines", self.name)
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        stop = set()
        eos = self.model.generation_config.eos_token_id
        stop.update(eos if isinstance(eos, (list, tuple)) else [eos] if eos is not None else [])
        if tok.eos_token_id is not None:
            stop.add(tok.eos_token_id)
        vocab = tok.get_vocab()
        stop.update(vocab[t] for t in END_OF_TURN_TOKENS if t in vocab)
        self.stop_token_ids = sorted(stop)

    # -- generation ----------------------------------------------------------------------------------
    def render(self, conversation: Conversation) -> str:
        """The prompt string for one conversation, through the tokenizer's chat template."""
        tok = self.tokenizer
        if not self.has_chat_template:
            text = "\n".join(f"{m['role'].capitalize()}: {m['content']}" for m in conversation)
            return text + "\nAssistant:"
        try:
            return tok.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
        except Exception as e:  # some templates reject a system turn: fold it into the first user turn
            if not conversation or conversation[0].get("role") != "system" or "system" not in str(e).lower():
                raise
            sys_text, rest = conversation[0]["content"], [dict(m) for m in conversation[1:]]
            if rest and rest[0]["role"] == "user":
                rest[0]["content"] = f"{sys_text}\n\n{rest[0]['content']}"
            return tok.apply_chat_template(rest, add_generation_prompt=True, tokenize=False)

    def generate(self, conversations: list[list[dict]], *, max_new_tokens: int = 96, seed: int = 0,
                 temperature: float = 0.0, images: Sequence | None = None) -> list[str]:
        if _check_images(images, len(conversations)) is not None:
            kind = "a vision-language model" if self.is_vision_model else "a text-only model"
            raise NotImplementedError(
                f"{self.name} is {kind} loaded as a causal LM; image input is not implemented in the "
                f"transformers backend. Serve the model with an OpenAI-compatible server (e.g. vLLM) and use "
                f"build_generator('http://host:port/v1#model'), or describe the item from its text attributes.")
        out: list[str] = []
        new_tokens, t0 = 0, time.perf_counter()
        for start in range(0, len(conversations), self.batch_size):
            chunk = conversations[start:start + self.batch_size]
            texts = [self.render(c) for c in chunk]
            # a chat template writes its own special tokens (e.g. <bos>); plain text gets the tokenizer's
            enc = self.tokenizer(texts, return_tensors="pt", padding=True,
                                 add_special_tokens=not self.has_chat_template)
            enc = {k: v.to(self.device) for k, v in enc.items()}
            kw = dict(max_new_tokens=int(max_new_tokens), eos_token_id=self.stop_token_ids,
                      pad_token_id=self.tokenizer.pad_token_id)
            if temperature and temperature > 0:
                kw.update(do_sample=True, temperature=float(temperature), top_p=1.0, top_k=0)
                torch.manual_seed(int(seed) + start)  # one stream per batch, reproducible for a seed
            else:
                kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
            kw.update(self.generation_kwargs)
            with torch.inference_mode():
                seqs = self.model.generate(**enc, **kw)
            gen = seqs[:, enc["input_ids"].shape[1]:]
            for row in gen:
                row = row.tolist()
                # count tokens up to (and including) the first stop token
                n = next((i + 1 for i, t in enumerate(row) if t in self.stop_token_ids), len(row))
                new_tokens += n
                out.append(self.tokenizer.decode(row[:n], skip_special_tokens=True).strip())
        dt = time.perf_counter() - t0
        self.last_stats = {"new_tokens": new_tokens, "seconds": dt, "tokens_per_s": new_tokens / max(dt, 1e-9)}
        return out

    def __repr__(self) -> str:
        return (f"TransformersGenerator(name={self.name!r}, device={self.device}, dtype={self.dtype}, "
                f"batch_size={self.batch_size}, threads={self.threads}, loaded_from={self.loaded_from!r})")


def generation_suffix(kwargs: dict, defaults: dict | None = None) -> str:
    """``"+k=v,..."`` for the decoding settings in ``kwargs`` that differ from ``defaults`` (else "")."""
    diff = {k: v for k, v in sorted(kwargs.items()) if (defaults or {}).get(k, object()) != v}
    return "+" + ",".join(f"{k}={v}" for k, v in diff.items()) if diff else ""


DTYPES = {"float32": "fp32", "bfloat16": "bf16", "float16": "fp16"}


def dtype_suffix(dtype, device) -> str:
    """``"-bf16"`` etc. when ``dtype`` is not the default for ``device`` (bf16 on CUDA, fp32 otherwise),
    else "": outputs change with the precision, so caches of different precisions get different names."""
    short = DTYPES.get(str(dtype).removeprefix("torch."), str(dtype))
    kind = getattr(device, "type", str(device).split(":")[0])
    return "" if short == ("bf16" if kind == "cuda" else "fp32") else f"-{short}"


def _safe_name(name: str) -> str:
    return safe_name(name).strip("._") or "model"


def _file_identity(path: Path) -> dict:
    try:
        size = path.stat().st_size
    except OSError:
        size = None
    return {"gguf": path.name, "size": size}


# --------------------------------------------------------------------------------------------------
# OpenAI-compatible HTTP endpoint (vLLM, llama.cpp server, ...)
# --------------------------------------------------------------------------------------------------

class OpenAIGenerator:
    """Chat completions from an OpenAI-compatible server, standard library only.

    ``base_url`` ends in ``/v1``; ``model`` is asked of ``GET {base_url}/models`` when not given.
    A batch is sent as concurrent requests (``concurrency`` threads). Connection errors, time-outs,
    429 and 5xx answers are retried ``retries`` times with exponential backoff; anything else, or the
    last failure, raises :class:`GenerationError` naming the URL. ``images`` (one entry per conversation:
    None, a path, raw bytes, or an http(s)/data URL) are attached to the last user turn as ``image_url``
    parts, which a vision-language server understands.
    """

    supports_images = True  # the request can carry images; whether the served model reads them is the server's

    def __init__(self, base_url: str, model: str | None = None, *, api_key: str | None = None,
                 concurrency: int = 8, timeout: float = 120.0, retries: int = 3, backoff: float = 0.5,
                 name: str | None = None, extra_body: dict | None = None):
        self.base_url = base_url.rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must start with http:// or https://, got {base_url!r}")
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.concurrency, self.timeout = max(1, int(concurrency)), float(timeout)
        self.retries, self.backoff = max(0, int(retries)), float(backoff)
        self.extra_body = dict(extra_body or {})
        self.package_version = None
        self.model = model or self._default_model()
        self.name = name or f"{self.base_url}#{self.model}"

    @classmethod
    def from_spec(cls, spec: str, **kw) -> "OpenAIGenerator":
        """``http://host:port/v1`` or ``http://host:port/v1#model-name``."""
        url, _, model = spec.partition("#")
        return cls(url, model or None, **kw)

    def _request(self, method: str, path: str, body: dict | None = None) -> dict:
        url = f"{self.base_url}{path}"
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last: str = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            req = urllib.request.Request(url, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    return json.loads(resp.read().decode("utf-8"))
            except urllib.error.HTTPError as e:
                detail = e.read().decode("utf-8", "replace")[:500]
                last = f"HTTP {e.code} {e.reason}: {detail}"
                if e.code != 429 and e.code < 500:
                    break  # a client error will not get better by retrying
            except (urllib.error.URLError, http.client.HTTPException, socket.timeout, TimeoutError,
                    ConnectionError) as e:
                last = f"{type(e).__name__}: {getattr(e, 'reason', e)}"
            except ValueError as e:  # not JSON
                last = f"invalid JSON answer: {e}"
                break
            log.warning("%s %s failed (attempt %d/%d): %s", method, url, attempt + 1, self.retries + 1, last)
        raise GenerationError(f"{method} {url} failed after {attempt + 1} attempt(s): {last}")

    def _default_model(self) -> str:
        models = self._request("GET", "/models").get("data") or []
        if not models:
            raise GenerationError(f"{self.base_url}/models lists no model; give one as {self.base_url}#MODEL")
        return models[0]["id"]

    @staticmethod
    def _image_part(image) -> dict:
        if isinstance(image, (bytes, bytearray)):
            url = "data:image/jpeg;base64," + base64.b64encode(image).decode()
        elif isinstance(image, str) and image.startswith(("http://", "https://", "data:")):
            url = image
        else:
            p = Path(image)
            mime = mimetypes.guess_type(p.name)[0] or "image/jpeg"
            url = f"data:{mime};base64," + base64.b64encode(p.read_bytes()).decode()
        return {"type": "image_url", "image_url": {"url": url}}

    def _messages(self, conversation: Conversation, image) -> list[dict]:
        msgs = [dict(m) for m in conversation]
        if image is not None:
            i = max(i for i, m in enumerate(msgs) if m["role"] == "user")
            msgs[i]["content"] = [{"type": "text", "text": msgs[i]["content"]}, self._image_part(image)]
        return msgs

    def complete(self, conversation: Conversation, *, max_new_tokens: int = 96, seed: int = 0,
                 temperature: float = 0.0, image=None) -> str:
        return self._complete(self._body(conversation, image, max_new_tokens, temperature, seed))[0]

    def _body(self, conversation: Conversation, image, max_new_tokens: int, temperature: float, seed: int) -> dict:
        return {"model": self.model, "messages": self._messages(conversation, image),
                "max_tokens": int(max_new_tokens), "temperature": float(temperature), "seed": int(seed),
                **self.extra_body}

    def _complete(self, body: dict) -> tuple[str, int]:
        """The answer's text and its ``usage.completion_tokens`` (0 when the server does not say)."""
        resp = self._request("POST", "/chat/completions", body)
        try:
            content = resp["choices"][0]["message"].get("content")
        except (KeyError, IndexError, TypeError) as e:
            raise GenerationError(f"{self.base_url}/chat/completions: unexpected answer {str(resp)[:300]}") from e
        usage = resp.get("usage") if isinstance(resp, dict) else None
        return (content or "").strip(), int((usage or {}).get("completion_tokens") or 0)

    def generate(self, conversations: list[list[dict]], *, max_new_tokens: int = 96, seed: int = 0,
                 temperature: float = 0.0, images: Sequence | None = None) -> list[str]:
        imgs = _check_images(images, len(conversations)) or [None] * len(conversations)

        def job(ci):
            return self._complete(self._body(ci[0], ci[1], max_new_tokens, temperature, seed))

        t0 = time.perf_counter()
        if len(conversations) <= 1 or self.concurrency == 1:
            answers = [job(ci) for ci in zip(conversations, imgs)]
        else:
            with ThreadPoolExecutor(max_workers=min(self.concurrency, len(conversations))) as pool:
                answers = list(pool.map(job, zip(conversations, imgs)))
        dt, new_tokens = time.perf_counter() - t0, sum(n for _, n in answers)
        self.last_stats = {"new_tokens": new_tokens, "seconds": dt, "tokens_per_s": new_tokens / max(dt, 1e-9)}
        return [text for text, _ in answers]

    def __repr__(self) -> str:
        return f"OpenAIGenerator(name={self.name!r}, concurrency={self.concurrency}, retries={self.retries})"


# --------------------------------------------------------------------------------------------------
# llama.cpp's llama-server on a GGUF file, started and stopped here (parallel sequences)
# --------------------------------------------------------------------------------------------------

def find_llama_server(binary: str | os.PathLike | None = None) -> Path:
    """The ``llama-server`` executable: ``binary``, ``$NEGGEN_LLAMA_SERVER``, the one beside this Python (where
    ``make llama-server`` puts it) or ``llama-server`` on ``PATH``."""
    beside = Path(sys.executable).parent / "llama-server"
    cand = (binary or os.environ.get("NEGGEN_LLAMA_SERVER") or (str(beside) if beside.is_file() else None)
            or shutil.which("llama-server"))
    if not cand or not Path(cand).expanduser().is_file():
        raise GenerationError(
            f"llama-server not found ({cand or 'not on PATH, $NEGGEN_LLAMA_SERVER unset'}): build it with "
            "`make llama-server` (llama.cpp from the llama-cpp-python sdist, ~18 min on 1 core) or point "
            "$NEGGEN_LLAMA_SERVER at one")
    return Path(cand).expanduser()


#: the suffix of a generator's name when llama.cpp ran it: its outputs get caches of their own
LLAMACPP_SUFFIX = "-llamacpp"


def ran_on_llamacpp(generator_name: str) -> bool:
    """Whether a generator (or cache) name says llama.cpp ran the model (:data:`LLAMACPP_SUFFIX`)."""
    return str(generator_name).endswith(LLAMACPP_SUFFIX)


def runtime_phrase(generator_name: str) -> str:
    """How a generator ran, from its (or its cache's) name, as a phrase for prose: "through llama.cpp"
    (:data:`LLAMACPP_SUFFIX`), else "in bf16" / "in fp16" / "in fp32" with transformers (:func:`dtype_suffix`;
    no suffix is the CPU default, fp32); "" for a served model (a URL). A cache's variant part (``.direct``,
    ``.text-rulemask``, ...) is ignored."""
    name = str(generator_name)
    if "://" in name:
        return ""
    name = cache_generator(name)
    if ran_on_llamacpp(name):
        return "through llama.cpp"
    short = next((s for s in DTYPES.values() if name.endswith(f"-{s}")), "fp32")
    return f"in {short} with transformers"


class LlamaServerGenerator(OpenAIGenerator):
    """A GGUF file served by llama.cpp's ``llama-server``, which this object starts on a free local port and
    stops on :meth:`close` (or at exit): ``batch_size`` parallel sequences (``--parallel``, continuous
    batching), ``threads`` CPU threads, ``ctx_per_sequence`` tokens of context per sequence. Requests go
    through :class:`OpenAIGenerator` (one concurrent request per sequence). The weights are the GGUF's
    own quantised ones (no dequantisation, unlike :class:`TransformersGenerator`); ``name`` defaults to
    ``<gguf stem>-llamacpp``. ``repack=False`` passes ``--no-repack`` (no repacked weight buffers): a
    native build with AMX kernels crashed in its warm-up (SIGSEGV) on this machine's Xeon, so ``make
    llama-server`` builds without AMX, and repacking (llama.cpp's default) then runs: Beauty generation,
    two 1-thread shards, 58 items/min with it against ~49 without. ``cache_ram_mib``: the server's host-memory
    prompt cache (``--cache-ram``; llama.cpp's default, 8 GiB, let each Beauty shard's server grow to 10.7 GB
    resident, two of them 21 of this machine's 24 GB); each sequence's own prefix reuse does not need it."""

    supports_images = False

    def __init__(self, gguf: str | os.PathLike, *, batch_size: int = 8, threads: int | None = None,
                 ctx_per_sequence: int = 2048, binary: str | os.PathLike | None = None, name: str | None = None,
                 startup_timeout: float = 300.0, timeout: float = 600.0, repack: bool = True,
                 cache_ram_mib: int = 256, **kw):
        self.gguf = Path(gguf).expanduser()
        if not self.gguf.is_file():
            raise GenerationError(f"GGUF file not found: {self.gguf}")
        self.binary = find_llama_server(binary)
        self.threads = int(threads) if threads else idle_cores()
        self.parallel = max(1, int(batch_size))
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.log_path = Path(tempfile.mkstemp(prefix="llama-server-", suffix=".log")[1])
        cmd = [str(self.binary), "-m", str(self.gguf), "--host", "127.0.0.1", "--port", str(port),
               "--parallel", str(self.parallel), "--threads", str(self.threads),
               "--threads-batch", str(self.threads), "--ctx-size", str(int(ctx_per_sequence) * self.parallel),
               "--cont-batching", "--no-webui", "--cache-ram", str(int(cache_ram_mib))]
        cmd += [] if repack else ["--no-repack"]
        self._log = open(self.log_path, "wb")
        self._proc = subprocess.Popen(cmd, stdout=self._log, stderr=subprocess.STDOUT)
        atexit.register(self.close)
        url = f"http://127.0.0.1:{port}"
        t0 = time.monotonic()
        while True:
            if self._proc.poll() is not None:
                self.close()
                tail = self.log_path.read_text(errors="replace")[-800:]
                hint = (" (a crash: if it is in the warm-up, rebuild without AMX as `make llama-server` does, or pass "
                        "repack=False)" if self._proc.returncode == -signal.SIGSEGV else "")
                raise GenerationError(f"llama-server exited with code {self._proc.returncode}{hint}: {tail}")
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, http.client.HTTPException, ConnectionError, socket.timeout):
                pass
            if time.monotonic() - t0 > startup_timeout:
                self.close()
                raise GenerationError(f"llama-server did not become ready in {startup_timeout:.0f} s "
                                      f"(log: {self.log_path})")
            time.sleep(0.5)
        self.startup_seconds = time.monotonic() - t0
        super().__init__(f"{url}/v1", self.gguf.stem, concurrency=self.parallel, timeout=timeout,
                         name=name or self.gguf.stem + LLAMACPP_SUFFIX, **kw)
        self.batch_size = self.parallel
        self.package_version = "llama.cpp " + self._version()

    def _version(self) -> str:
        try:
            out = subprocess.run([str(self.binary), "--version"], capture_output=True, text=True, timeout=30)
            lines = (out.stdout + out.stderr).strip().splitlines()
            return lines[0] if lines else "?"
        except (OSError, subprocess.SubprocessError):
            return "?"

    def close(self) -> None:
        """Stop the server (idempotent)."""
        proc = getattr(self, "_proc", None)
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except Exception:  # noqa: BLE001 -- last resort
                proc.kill()
        if getattr(self, "_log", None) is not None and not self._log.closed:
            self._log.close()

    def __enter__(self) -> "LlamaServerGenerator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"LlamaServerGenerator(name={self.name!r}, gguf={self.gguf.name!r}, parallel={self.parallel}, "
                f"threads={self.threads})")
