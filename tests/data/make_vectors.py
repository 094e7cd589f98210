#!/usr/bin/env python3
"""Writes tests/data/vectors.h: gzip test vectors for tests/test_gzip.c and tests/test_idx.c.

Run from the repository root:  python3 tests/data/make_vectors.py
Needs python3 (its zlib module makes the streams) and, for one vector, the gzip program.
The output is committed, so the tests need neither. Each vector is the gzip file made from
the text or IDX bytes that the same header also holds, so the tests compare against them.
"""
import os
import subprocess
import tempfile
import zlib

TEXT = (
    "Fashion-MNIST is a dataset of Zalando's article images, consisting of a training set "
    "of 60,000 examples and a test set of 10,000 examples. Each example is a 28x28 grayscale "
    "image, associated with a label from 10 classes: T-shirt/top, Trouser, Pullover, Dress, "
    "Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot. It shares the same image size and "
    "structure of training and testing splits as the original MNIST, so it serves as a "
    "direct drop-in replacement for benchmarking machine learning algorithms.\n"
    "The files are stored in the IDX format: a magic number, the dimensions as big-endian "
    "32-bit integers, then the data. The magic number is four bytes: two zero bytes, a byte "
    "for the element type (0x08 unsigned byte, 0x09 signed byte, 0x0B short, 0x0C int, 0x0D "
    "float, 0x0E double) and a byte for the number of dimensions. Images come as 3 dimensions "
    "(count, rows, columns) and labels as 1 dimension (count); pixels are 0 for background "
    "and up to 255 for ink. The training images take 47,040,016 bytes once decompressed and "
    "the labels 60,008 bytes.\n"
    "A DEFLATE stream is a series of blocks; each block is stored, compressed with fixed "
    "Huffman codes, or compressed with dynamic Huffman codes sent in the block header. "
    "Back-references copy 3 to 258 bytes from up to 32768 bytes back in the output.\n"
)
SHORT = "hello, hello, hello world"      # short enough that zlib picks a fixed-code block


def gzip_zlib(data, level, mem_level=8, flush_at=None):
    c = zlib.compressobj(level, zlib.DEFLATED, 31, mem_level)   # wbits 31: gzip wrapper
    if flush_at is None:
        return c.compress(data) + c.flush()
    return (c.compress(data[:flush_at]) + c.flush(zlib.Z_FULL_FLUSH) +
            c.compress(data[flush_at:]) + c.flush())


def first_btype(gz):
    assert gz[:3] == b"\x1f\x8b\x08" and gz[3] == 0, "expected a plain 10-byte header"
    return (gz[10] >> 1) & 3


def small_idx():
    """5 images of 7x6 ubyte and their 5 labels, as raw IDX files."""
    n, rows, cols = 5, 7, 6
    img = bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in (n, rows, cols))
    for i in range(n):
        for r in range(rows):
            for c in range(cols):
                v = (i * 37 + r * 11 + c * 5) % 256
                img += bytes([0 if (r + c + i) % 3 == 0 else v])
    lab = bytes([0, 0, 8, 1]) + n.to_bytes(4, "big") + bytes([3, 1, 4, 1, 5])
    return img, lab


def c_array(name, data):
    out = ["static const unsigned char %s[%d] = {" % (name, max(len(data), 1))]
    for i in range(0, len(data), 16):
        out.append("    " + ", ".join("0x%02x" % b for b in data[i:i + 16]) + ",")
    out.append("};")
    return "\n".join(out)


def c_string(s):
    lines = []
    for line in s.splitlines(True):
        esc = line.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        while esc:
            lines.append('    "%s"' % esc[:90])
            esc = esc[90:]
    return "\n".join(lines)


def main():
    text = TEXT.encode()
    vectors = []                                 # (name, gz bytes, expected, btype or -1)
    for level in range(10):
        gz = gzip_zlib(text, level)
        vectors.append(("text_level%d" % level, gz, "text", first_btype(gz)))
    assert vectors[0][3] == 0, "level 0 must give stored blocks"
    assert all(v[3] == 2 for v in vectors[1:]), "levels 1-9 must give dynamic blocks"
    gz = gzip_zlib(SHORT.encode(), 9)
    assert first_btype(gz) == 1, "the short text must give a fixed-code block"
    vectors.append(("short_fixed", gz, "short", 1))
    # memLevel 1 gives zlib a 128-symbol buffer, so it emits a new block every 128 symbols
    gz = gzip_zlib(text, 6, mem_level=1)
    vectors.append(("text_memlevel1", gz, "text", first_btype(gz)))
    # a full flush in the middle ends the block and adds an empty stored block
    gz = gzip_zlib(text, 6, flush_at=700)
    vectors.append(("text_flush", gz, "text", first_btype(gz)))
    # the gzip program's own deflate, and a header with FNAME (it stores the file name)
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "text.txt")
        with open(path, "wb") as f:
            f.write(text)
        os.utime(path, (1591315200, 1591315200))      # gzip stores it: fixed, reproducible
        gz = subprocess.run(["gzip", "-9", "-c", path], check=True,
                            stdout=subprocess.PIPE).stdout
    assert gz[3] & 0x08, "gzip stores the name"
    vectors.append(("text_gzip_cli", gz, "text", -1))
    img, lab = small_idx()
    vectors.append(("small_images", gzip_zlib(img, 9), "images", -1))
    vectors.append(("small_labels", gzip_zlib(lab, 9), "labels", -1))
    for name, gz, what, _ in vectors:                 # every vector must round-trip
        want = {"text": text, "short": SHORT.encode(), "images": img, "labels": lab}[what]
        assert zlib.decompress(gz, 31) == want, name

    out = ["/* Generated by tests/data/make_vectors.py; do not edit. Vectors are gzip files made",
           "   by Python's zlib (levels 0-9, memLevel 1, a full flush) and by gzip -9 of the texts",
           "   and small IDX files below. btype: type of the first DEFLATE block, -1 unchecked. */",
           "#ifndef TEST_VECTORS_H", "#define TEST_VECTORS_H", "#include <stddef.h>", "",
           "static const char vec_text[] =", c_string(TEXT) + ";", "",
           "static const char vec_short[] = \"%s\";" % SHORT, ""]
    out.append(c_array("vec_small_images_idx", img))
    out.append(c_array("vec_small_labels_idx", lab))
    for name, gz, _, _ in vectors:
        out.append(c_array("vec_" + name, gz))
    out += ["", "typedef struct test_vector {",
            "    const char *name;", "    const unsigned char *gz;", "    size_t gz_size;",
            "    const void *want;", "    size_t want_size;", "    int btype;",
            "} test_vector;", "", "static const test_vector test_vectors[] = {"]
    sizes = {"text": "sizeof vec_text - 1", "short": "sizeof vec_short - 1",
             "images": "sizeof vec_small_images_idx", "labels": "sizeof vec_small_labels_idx"}
    refs = {"text": "vec_text", "short": "vec_short", "images": "vec_small_images_idx",
            "labels": "vec_small_labels_idx"}
    for name, gz, what, btype in vectors:
        out.append('    { "%s", vec_%s, sizeof vec_%s, %s, %s, %d },' %
                   (name, name, name, refs[what], sizes[what], btype))
    out += ["};", "#define TEST_VECTOR_COUNT (sizeof test_vectors / sizeof test_vectors[0])",
            "", "#endif", ""]
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "vectors.h"), "w") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
