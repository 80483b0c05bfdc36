"""The dense FAISS index: exact search for small archives, IVF with 8-bit vectors for large ones.

Up to `settings.ann_threshold` passages (10,000) the index is an `IndexFlatIP`: exact, and a
scan of its 15 MB takes about a millisecond. Above it, "ivf-sq8": an inverted file of
`nlist = 4 * sqrt(n)` k-means cells whose vectors are scalar-quantised to one byte per dimension
(`IndexIVFScalarQuantizer`, QT_8bit; 1M passages of 384 dimensions take about 400 MB), of which
a query scans the `nprobe` nearest cells. The `rerank` * k best candidates are then re-scored
exactly against the float vectors (`IndexRefineFlat`), which stay on disk and are memory-mapped:
only the few rows a query touches are read. 8-bit codes alone blur near ties (recall@10 levels
off near 0.98 however many cells are scanned); the re-scoring restores it and keeps scores exact
cosines, which the abstention threshold compares against. HNSW would answer faster but keeps
its graph in memory, and on the 200k bench archive its recall@10 on real questions was
0.83-0.88 (docs/benchmarks.md).

The choice and its parameters are written to the manifest's `dense` section; loading reads the
search-time parameters (`nprobe`, `rerank`) back from there.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import faiss
import numpy as np

from indexer.settings import DenseType

# k-means wants at least 39 training points per cell (FAISS warns below); more only slows training.
_MIN_POINTS_PER_CELL = 39
_TRAINING_POINTS_PER_CELL = 64
# Candidates re-scored exactly, as a multiple of the results asked for.
_RERANK = 4


def dense_spec(count: int, index_type: DenseType, ann_threshold: int, nprobe: int) -> dict[str, Any]:
    """The manifest's `dense` section for `count` vectors: which index, and its parameters."""
    kind = index_type
    if kind == "auto":
        kind = "ivf-sq8" if count > ann_threshold else "flat"
    if kind == "flat":
        return {"type": "flat", "faiss": "IndexFlatIP", "metric": "cosine"}
    nlist = max(1, min(round(4 * math.sqrt(count)), count // _MIN_POINTS_PER_CELL))
    return {
        "type": "ivf-sq8",
        "faiss": "IndexIVFScalarQuantizer",
        "metric": "cosine",
        "quantizer": "QT_8bit",
        "nlist": nlist,
        "nprobe": min(nprobe, nlist),
        "rerank": _RERANK,
    }


def build_dense(vectors: np.ndarray, spec: dict[str, Any]) -> faiss.Index:
    """A FAISS index of the unit `vectors` (row i = passage i) as `spec` describes."""
    dimension = vectors.shape[1]
    if spec.get("type", "flat") == "flat":
        flat = faiss.IndexFlatIP(dimension)
        flat.add(vectors)
        return flat
    nlist = int(spec["nlist"])
    ivf = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(dimension),
        dimension,
        nlist,
        faiss.ScalarQuantizer.QT_8bit,
        faiss.METRIC_INNER_PRODUCT,
    )
    # Train on an even sample (fixed, so a rebuild of the same archive gives the same cells).
    sample = min(len(vectors), nlist * _TRAINING_POINTS_PER_CELL)
    rows = np.random.default_rng(0).choice(len(vectors), sample, replace=False)
    ivf.train(vectors[np.sort(rows)])
    index = faiss.IndexRefineFlat(ivf)  # adds to both: 8-bit codes in cells, floats for re-scoring
    index.add(vectors)
    _search_parameters(index, spec)
    return index


def read_dense(path: Path, spec: dict[str, Any]) -> faiss.Index:
    """The index at `path` with the search-time parameters of `spec` applied. Float vectors
    (the flat index, the re-scoring copy) are memory-mapped: pages shared between processes,
    read on demand and left to the page cache."""
    mmap = getattr(faiss, "IO_FLAG_MMAP_IFC", None)  # FAISS >= 1.11
    try:
        index = faiss.read_index(str(path), mmap | faiss.IO_FLAG_READ_ONLY) if mmap else None
    except RuntimeError:
        index = None
    if index is None:
        index = faiss.read_index(str(path))  # no mmap here: read it whole
    if spec.get("type", "flat") == "ivf-sq8":
        _search_parameters(index, spec)
    return index


def touch(index: faiss.Index) -> None:
    """Read every vector and every 8-bit code of `index` once, so that the pages of its
    memory-mapped file are mapped into this process now, and not one page fault at a time in
    the first questions' searches: an exact search over the float vectors, and a search of
    every cell of the inverted file for one zero vector.

    FAISS maps the cells' codes from the file too. Left out, the first 62 questions at 200k
    passages searched in 3.2 ms (p50) against 0.9 ms once their cells had been read.
    """
    query = np.zeros((1, index.d), dtype=np.float32)
    inner: Any = faiss.downcast_index(index)
    flat = faiss.downcast_index(inner.refine_index) if hasattr(inner, "refine_index") else index
    flat.search(query, 1)
    if flat is not index:
        cells = faiss.extract_index_ivf(index)
        every = faiss.SearchParametersIVF()
        every.nprobe = cells.nlist
        cells.search(query, 1, params=every)


def _search_parameters(index: faiss.Index, spec: dict[str, Any]) -> None:
    faiss.extract_index_ivf(index).nprobe = int(spec["nprobe"])
    refine: Any = faiss.downcast_index(index)  # an IndexRefineFlat
    refine.k_factor = float(spec["rerank"])
