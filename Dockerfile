# The operator image: built with the Rust toolchain, run from a distroless base as a non-root
# user. (Our CI machines have no container engine; this file is kept simple and unbuilt there.)
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN cargo build --release --locked --bin swas-image-operator

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/swas-image-operator /usr/local/bin/swas-image-operator
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/swas-image-operator"]
CMD ["run"]
