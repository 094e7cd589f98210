#!/bin/sh
# tools/get-data.sh - make sure the Fashion-MNIST files are installed.
#
# The data comes from one place only: the Debian package dataset-fashion-mnist, which puts
# train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and
# t10k-labels-idx1-ubyte.gz in /usr/share/datasets/fashion-mnist. This script downloads
# nothing itself. When the four files are already there it says so; otherwise it runs
#     apt-get update && apt-get install -y dataset-fashion-mnist
# as root (through sudo when not root and sudo exists), or prints what to do.
#
# Programs find the data through cnn_dataset_find_dir: a --data DIR option first, then the
# environment variable CNN_DATA_DIR, then /usr/share/datasets/fashion-mnist.
#
# Usage: tools/get-data.sh        exit status 0 when the files are in place afterwards

set -u
DIR=/usr/share/datasets/fashion-mnist
PKG=dataset-fashion-mnist
FILES="train-images-idx3-ubyte.gz train-labels-idx1-ubyte.gz t10k-images-idx3-ubyte.gz t10k-labels-idx1-ubyte.gz"

missing() {
    for f in $FILES; do
        [ -r "$DIR/$f" ] || { echo "$f"; return 0; }
    done
    return 1
}

if ! first=$(missing); then
    echo "get-data: Fashion-MNIST is installed in $DIR"
    exit 0
fi
echo "get-data: $DIR/$first is missing; installing the Debian package $PKG"

if ! command -v apt-get >/dev/null 2>&1; then
    cat >&2 <<EOF
get-data: this system has no apt-get, so $PKG cannot be installed here.
  On Debian or Ubuntu:  sudo apt-get update && sudo apt-get install -y $PKG
  Elsewhere: put the four files ($FILES)
  in a directory of your choice and pass --data DIR to the programs, or set CNN_DATA_DIR=DIR.
EOF
    exit 1
fi

if [ "$(id -u)" = 0 ]; then
    SUDO=
elif command -v sudo >/dev/null 2>&1; then
    SUDO=sudo
else
    cat >&2 <<EOF
get-data: installing $PKG needs root, and there is no sudo. As root, run:
  apt-get update && apt-get install -y $PKG
EOF
    exit 1
fi

if ! { $SUDO apt-get update && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y "$PKG"; }; then
    cat >&2 <<EOF
get-data: the install failed (see apt-get's messages above). Check that the machine can
reach its Debian package mirror, then run:
  ${SUDO:+sudo }apt-get update && ${SUDO:+sudo }apt-get install -y $PKG
EOF
    exit 1
fi

if first=$(missing); then
    echo "get-data: $PKG is installed but $DIR/$first is still missing" >&2
    exit 1
fi
echo "get-data: Fashion-MNIST is installed in $DIR"
