# ledgerbridge: one image for the web process (`ledgerbridge run`) and the workers
# (`ledgerbridge worker`) of the distributed runtime. See docs/distributed.md and compose.yaml.
FROM python:3.11-slim

WORKDIR /app
COPY pyproject.toml README.md ./
COPY src ./src
RUN pip install --no-cache-dir . && useradd --create-home ledgerbridge
USER ledgerbridge
WORKDIR /home/ledgerbridge

# Every setting is an environment variable (LEDGERBRIDGE_*) or ledgerbridge.toml here.
ENV LEDGERBRIDGE_HOST=0.0.0.0 \
    LEDGERBRIDGE_RUNTIME=distributed
EXPOSE 8700
ENTRYPOINT ["ledgerbridge"]
CMD ["run"]
