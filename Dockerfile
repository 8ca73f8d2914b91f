# lrlab web app (and, through it, a local worker) in one container.
# Build: docker build -t lrlab .   Run: docker run -p 8501:8501 -v lrlab-data:/data lrlab
# The same image runs a separate worker (`lrlab worker`): see compose.yaml.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    LRLAB_HOME=/data

RUN useradd --create-home --uid 10001 lrlab \
    && mkdir -p /data \
    && chown lrlab:lrlab /data

WORKDIR /app
COPY requirements.txt ./
RUN pip install -r requirements.txt

COPY pyproject.toml README.md app.py ./
COPY .streamlit ./.streamlit
COPY lrlab ./lrlab
COPY app_pages ./app_pages
RUN pip install --no-deps .

USER 10001
EXPOSE 8501
VOLUME ["/data"]

HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4).status != 200)"]

# 0.0.0.0 inside the container so the published port reaches it; pages may then read host folders
# only under LRLAB_DATA_DIRS (default: /data/data and the user's home).
CMD ["lrlab", "app", "--host=0.0.0.0", "--port=8501"]
