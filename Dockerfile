# One image for the whole fleet: each Deployment runs `comms serve <service>`.
# Build: docker build -t ocelot/comms:<version> .   (the same cargo command scripts/bench uses)

FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p comms

# Distroless: no shell, no package manager; runs as uid 65532 (nonroot).
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/comms /usr/local/bin/comms
USER 65532:65532
EXPOSE 3018 50051 50052 50053 9090
ENTRYPOINT ["/usr/local/bin/comms"]
CMD ["serve", "edge"]
