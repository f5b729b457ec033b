#!/bin/sh
# werift.sh BUILD_DIR SRC_DIR GEN: werift-rtp decrypts mcxsec's group media (decrypt.js).
# werift-rtp is installed with `npm ci` from the committed package-lock.json into
# BUILD_DIR/werift (kept between runs while the lock file is unchanged). Exit 77 (skip) only when
# the npm registry cannot be reached.
set -eu
build=$1
src=$2
gen=$3
dir=$build/werift
mkdir -p "$dir"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "werift: node/npm not installed (scripts/install-deps: nodejs npm)" >&2
    exit 1
fi
if [ ! -d "$dir/node_modules/werift-rtp" ] || ! cmp -s "$src/package-lock.json" "$dir/package-lock.json"; then
    cp "$src/package.json" "$src/package-lock.json" "$dir/"
    if ! (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >"$dir/npm.log" 2>&1); then
        if ! (cd "$dir" && timeout 30 npm ping >/dev/null 2>&1); then
            echo "werift: SKIP: the npm registry cannot be reached (npm ci failed, npm ping failed)" >&2
            exit 77
        fi
        echo "werift: npm ci failed:" >&2
        cat "$dir/npm.log" >&2
        exit 1
    fi
fi
cp "$src/decrypt.js" "$dir/"
"$gen" >"$dir/packets.json"
node "$dir/decrypt.js" "$dir/packets.json"
