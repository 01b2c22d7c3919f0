# syntax=docker/dockerfile:1
# The operator image: a static binary, CA certificates and an empty /tmp in an otherwise empty
# image, run as a numeric non-root user.
#
#   docker build -t docspace-compliance-operator .
#
# Where no base image can be pulled, build the binary on the host and use Dockerfile.prebuilt
# (scripts/image.sh does both steps); it produces the same layout.

ARG RUST_VERSION=1.89
FROM rust:${RUST_VERSION}-bookworm AS builder
ARG RUST_TARGET=x86_64-unknown-linux-gnu
WORKDIR /src
COPY . .
# A static glibc binary: it needs no loader or libc in the final image. DNS works without
# NSS modules (glibc has its DNS and files resolvers built in since 2.34). Without the default
# `demo` feature, so the DocSpace simulator is not in the image.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    RUSTFLAGS='-C target-feature=+crt-static' \
    cargo build --release --locked --target "${RUST_TARGET}" -p docspace-compliance-operator \
        --no-default-features --bin docspace-compliance-operator \
 && mkdir -p /rootfs/etc/ssl/certs /rootfs/tmp \
 && chmod 1777 /rootfs/tmp \
 && cp "target/${RUST_TARGET}/release/docspace-compliance-operator" /rootfs/docspace-compliance-operator \
 && cp /etc/ssl/certs/ca-certificates.crt /rootfs/etc/ssl/certs/ca-certificates.crt \
 && printf 'nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin\n' > /rootfs/etc/passwd \
 && printf 'nonroot:x:65532:\n' > /rootfs/etc/group

FROM scratch
COPY --from=builder /rootfs/ /
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["/docspace-compliance-operator"]
CMD ["run"]
