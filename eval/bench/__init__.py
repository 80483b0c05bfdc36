"""`newsqa bench`: indexing throughput, latency, memory, size and ANN recall at several archive
scales, each set against a naive baseline measured in the same run.

The baseline is what a user would write without newsqa: `SentenceTransformer(model, device="cpu")`
on torch, `encode` of one query. Its time is measured again right before and right after each
HTTP run, and the faster reading is used, so the ratios (ask latency / baseline embed time,
requests per second / baseline embeds per second) hold on a machine whose other load comes and
goes, and a slowed reading does not flatter them; the absolute figures do not hold.

Scales: "bundled" (the five bundled articles), a passage count such as "20k" or "200k" (the
bundled articles plus a deterministic synthetic archive, eval/synth.py, really indexed and served
over HTTP by `newsqa serve`), and counts of one million or more, which are vector-only: synthetic
unit vectors (eval/ann.py) through the same FAISS index the indexer builds. Archives above
`real_embed_limit` passages are not fully embedded unless asked: `sample_embed` passages are,
and every further passage gets a perturbed copy of one of their vectors (`SampledEmbedder`), so
latency, memory, size and load time are real and search quality there is not measured.

The modules, one step each:

- `options`: what a run is (`BenchOptions`, scale names, the targets);
- `run`: `run_bench`, which runs the steps below in turn and gathers their report;
- `naive`: the naive baseline and an HTTP run's ratios to it;
- `indexing`: indexing throughput per backend;
- `scales`: building one scale's index and measuring it in this process;
- `serving`: `newsqa serve` over a scale's index, asked over HTTP;
- `vectors`: FAISS alone over a million synthetic vectors;
- `report`: the targets met, the Markdown tables, the files written;
- `record`: the dated copy of the Markdown that `--record` keeps, stamped with commit and machine.
- `distributed`: `--scenario ray`, indexing on a 2-node loopback Ray cluster against a local build;
- `sharded`: `--scenario ray`, serving on Ray Serve on that cluster against plain `newsqa serve`.
"""

from eval.bench.naive import against_naive
from eval.bench.options import BenchError, BenchOptions, parse_scale
from eval.bench.report import markdown, write_report
from eval.bench.run import run_bench

__all__ = [
    "BenchError",
    "BenchOptions",
    "against_naive",
    "markdown",
    "parse_scale",
    "run_bench",
    "write_report",
]
