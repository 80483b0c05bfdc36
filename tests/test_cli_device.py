"""`--device auto|cpu|cuda` (auto: CUDA with torch when there is a GPU, else the CPU) and `--index-type`."""

from __future__ import annotations

import json

import pytest
import torch

from indexer import backends
from indexer.embed import Embedder
from indexer.errors import ConfigError
from indexer.settings import load_settings
from tests.helpers import newsqa


def test_auto_resolves_to_the_cpu_without_a_gpu():
    assert not torch.cuda.is_available()  # the CI and development machines have none
    assert load_settings().device == "auto"
    for backend in ("auto", "torch", "openvino", "onnx"):
        assert backends.resolve_device("auto", backend) == "cpu"


def test_auto_takes_the_gpu_only_for_torch(monkeypatch):
    monkeypatch.setattr(backends, "_gpu_driver", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert backends.resolve_device("auto", "auto") == "cuda"
    assert backends.resolve_device("auto", "torch") == "cuda"
    assert backends.resolve_device("auto", "openvino") == "cpu"
    assert backends.resolve_device("auto", "onnx") == "cpu"
    assert backends.resolve_device("cpu", "torch") == "cpu"


def test_the_cpu_fallback_embeds(embedder):
    assert embedder.device == "cpu"
    torch_embedder = Embedder(device="auto", backend="torch")
    assert torch_embedder.device == "cpu"
    assert str(torch_embedder.model.device) == "cpu"
    vectors = torch_embedder.embed(["Roads in Moc Chau", "Coffee in Pu Nhung"])
    assert vectors.shape == (2, 384)
    assert float(vectors[0] @ embedder.embed(["Roads in Moc Chau"])[0]) > 0.999


def test_cuda_without_a_gpu_is_one_line(tmp_path):
    with pytest.raises(ConfigError, match=r"^device cuda was asked for, but torch sees no CUDA GPU"):
        Embedder(device="cuda", backend="torch")
    with pytest.raises(ConfigError, match="device"):
        load_settings(device="tpu")
    result = newsqa("index", "--device", "cuda", "--backend", "torch", "--index-dir", str(tmp_path / "index"))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "newsqa: error: device cuda was asked for, but torch sees no CUDA GPU (use --device cpu)"
    ]
    assert not (tmp_path / "index").exists()


def test_index_type_flag_forces_the_dense_index(tmp_path):
    result = newsqa("index", "--index-type", "ivf-sq8", "--index-dir", str(tmp_path / "index"))
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "index" / "current" / "manifest.json").read_text())
    assert manifest["dense"]["type"] == "ivf-sq8"
    search = newsqa("search", "Pu Nhung coffee", "-k", "1", "--json", "--index-dir", str(tmp_path / "index"))
    assert search.returncode == 0, search.stderr
    assert json.loads(search.stdout)["results"][0]["doc_id"]
    bad = newsqa("index", "--index-type", "hnsw", "--index-dir", str(tmp_path / "other"))
    assert bad.returncode == 2 and "Invalid value for '--index-type'" in bad.stderr
