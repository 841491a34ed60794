# The image `deploy/kubernetes/` runs: `docker build -t unclosed:0.1.0 .` (from the repository's
# root). The build step is the one `.ci/run` proves (`cargo build --release --locked`); the
# runtime is distroless with glibc (the binary links glibc dynamically), no shell, no package
# manager.
FROM rust:1.88-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY grammars grammars
RUN cargo build --release --locked

# Root inside the image: the kubelet's log files are root's and mode 0640. The DaemonSet
# takes every capability away, so root can read what it owns and nothing more.
FROM gcr.io/distroless/cc-debian12
COPY --from=build /src/target/release/unclosed /usr/local/bin/unclosed
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/unclosed"]
CMD ["tail", "--metrics=0.0.0.0:9464", "--format=ndjson", "/var/log/containers/*.log"]
