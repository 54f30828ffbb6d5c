FROM python:3.11-slim
WORKDIR /app
# nothing written beside the code: the image runs with a read-only root filesystem (charts/tidings)
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
COPY . .
RUN pip install --no-cache-dir .
# nobody, by number: Kubernetes checks runAsNonRoot against a numeric user
USER 65534:65534
EXPOSE 8000
CMD ["tidings", "api", "--host", "0.0.0.0"]
