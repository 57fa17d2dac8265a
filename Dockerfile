# btvep in a minimal image: a fully static binary on an empty base, run as a non-root user.
#
#   docker build -t btvep .
#   docker run -d --name btvep -p 8000:8000 -v btvep-data:/data \
#     -v /etc/btvep/hotkey_mnemonic:/run/secrets/hotkey_mnemonic:ro \
#     -e BTVEP_HOTKEY_MNEMONIC_FILE=/run/secrets/hotkey_mnemonic btvep
#
# State (config.json, the database, the admin socket) lives in the /data volume. See docs/operations.md.

FROM rust:1.89-bookworm AS build
WORKDIR /src
COPY . .
# glibc linked statically (TLS is rustls; CA roots fall back to the bundled Mozilla set), as
# scripts/build_static.sh does; the binary needs nothing from the image.
RUN RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
    cargo build --release --locked --target x86_64-unknown-linux-gnu \
 && install -D -m 0755 target/x86_64-unknown-linux-gnu/release/btvep /out/btvep \
 && mkdir -p /out/data \
 && printf 'btvep:x:10001:10001:btvep:/data:/sbin/nologin\n' > /out/passwd \
 && printf 'btvep:x:10001:\n' > /out/group

FROM scratch
COPY --from=build /out/passwd /etc/passwd
COPY --from=build /out/group /etc/group
COPY --from=build /out/btvep /usr/local/bin/btvep
COPY --from=build --chown=10001:10001 /out/data /data
ENV BTVEP_DATA_DIR=/data \
    BTVEP_CONFIG=/data/config.json \
    BTVEP_HOST=0.0.0.0
USER 10001:10001
VOLUME ["/data"]
EXPOSE 8000
ENTRYPOINT ["/usr/local/bin/btvep"]
CMD ["start"]
