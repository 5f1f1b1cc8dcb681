# syntax=docker/dockerfile:1
# The engine as a static binary (no cgo: the embedded SQLite is pure Go) on a
# distroless base, running as a non-root user.

FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG COMMIT=dev
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.commit=${COMMIT}" \
      -o /out/commerce ./cmd/commerce \
 && mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/commerce /usr/local/bin/commerce
# The embedded default keeps its files here; mount a volume to keep them.
COPY --from=build --chown=65532:65532 /out/data /data
ENV COMMERCE_HTTP_ADDR=:8080 \
    COMMERCE_DATA_DIR=/data
USER nonroot:nonroot
EXPOSE 8080
VOLUME ["/data"]
ENTRYPOINT ["/usr/local/bin/commerce"]
CMD ["serve"]
