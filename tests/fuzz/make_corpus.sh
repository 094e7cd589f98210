#!/usr/bin/env bash
# tests/fuzz/make_corpus.sh - regenerate the seed corpora under tests/fuzz/corpus/:
#   fuzz_idx      every IDX element type with 1, 2 and 3 dimensions, empty and limit cases
#   fuzz_idx_any  the same plain, and gzipped at levels 0/1/6/9, with header flags, 2 members
#   fuzz_gzip     several payloads at levels 0-9, every zlib strategy, memLevel 1 and 9,
#                 small windows, full flushes, every header flag, several members
#   fuzz_model    one model file per layer type and option        (tests/fuzz/make_corpus.c)
#   fuzz_spec     every spec string of the study, malformed ones  (tests/fuzz/make_corpus.c)
#   fuzz_ckpt     a checkpoint written by training                (tests/fuzz/fuzz_ckpt.c)
# Each seed ends with its harness's option bytes. Needs cc and python3 (zlib module).
#   bash tests/fuzz/make_corpus.sh
set -eu
cd "$(dirname "$0")/../.."
dir=tests/fuzz/corpus
rm -rf "$dir"
mkdir -p "$dir"/fuzz_idx "$dir"/fuzz_idx_any "$dir"/fuzz_gzip "$dir"/fuzz_model "$dir"/fuzz_spec
mkdir -p build/fuzz
cc -std=c99 -O1 tests/fuzz/make_corpus.c -lm -o build/fuzz/make_corpus
build/fuzz/make_corpus "$dir"
# fuzz_ckpt: a real checkpoint after 2 of 4 epochs, as is and with the CRC-fixing option
mkdir -p "$dir"/fuzz_ckpt
cc -std=c99 -O1 -DFUZZ_CKPT_SEED tests/fuzz/fuzz_ckpt.c -lm -o build/fuzz/make_ckpt_seed
build/fuzz/make_ckpt_seed "$dir"/fuzz_ckpt/after_epoch_2
python3 -c "import sys; b=open(sys.argv[1],'rb').read(); open(sys.argv[2],'wb').write(b[:-1]+bytes([1]))" \
    "$dir"/fuzz_ckpt/after_epoch_2 "$dir"/fuzz_ckpt/after_epoch_2_fixcrc

python3 - "$dir" <<'EOF'
import os, struct, sys, zlib

out = sys.argv[1]
count = 0

def seed(harness, name, data, opts):
    global count
    with open(os.path.join(out, harness, name), "wb") as f:
        f.write(bytes(data) + bytes(opts))
    count += 1

# ---- IDX: every type, 1-3 dims; options (o1, o0): o0 = 0 is NULL limits --------------------
TYPES = {0x08: ("u8", "B"), 0x09: ("i8", "b"), 0x0B: ("i16", "h"), 0x0C: ("i32", "i"),
         0x0D: ("f32", "f"), 0x0E: ("f64", "d")}
SHAPES = [(3,), (2, 3), (2, 2, 3)]

def idx(t, dims, values=None):
    fmt = TYPES[t][1]
    n = 1
    for d in dims:
        n *= d
    if values is None:
        if fmt in "fd":
            values = [(-1) ** i * i * 0.375 for i in range(n)]
        elif fmt == "B":
            values = [(37 * i) % 256 for i in range(n)]
        else:
            lim = {"b": 127, "h": 32767, "i": 2 ** 31 - 1}[fmt]
            values = [((-1) ** i * i * 97) % lim for i in range(n)]
    head = bytes([0, 0, t, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    return head + struct.pack(">%d%s" % (n, fmt), *values)

plain = {}
for t, (tn, _) in TYPES.items():
    for dims in SHAPES:
        plain["%s_%dd" % (tn, len(dims))] = idx(t, dims)
plain["u8_empty"] = idx(0x08, (0, 28, 28))
plain["u8_8dims"] = idx(0x08, (1, 1, 1, 1, 2, 1, 1, 2))
plain["u8_images_10x28x28"] = idx(0x08, (10, 28, 28))
plain["u8_labels_10"] = idx(0x08, (10,), list(range(10)))
for name, data in plain.items():
    seed("fuzz_idx", name, data, (0, 0))
    seed("fuzz_idx_any", name, data, (0, 0))
# limits: max_bytes = (o1+1) << s with mode 2, max_dim with mode 3 (o0 = mode | s << 2)
d = idx(0x0C, (2, 3))                                   # 24 data bytes = 3 << 3
seed("fuzz_idx", "limit_bytes_exact", d, (2, 2 | 3 << 2))
seed("fuzz_idx", "limit_bytes_one_less", d, (22, 2))
seed("fuzz_idx", "limit_dim_exact", d, (2, 3))
seed("fuzz_idx", "limit_dim_one_less", d, (1, 3))
seed("fuzz_idx", "limits_zero_err_null", d, (0, 1 | 0x40))
# invalid ones
seed("fuzz_idx", "bad_type", bytes([0, 0, 0x0A, 1, 0, 0, 0, 1, 5]), (0, 0))
seed("fuzz_idx", "bad_dims", bytes([0, 0, 8, 9]) + bytes(36), (0, 0))
seed("fuzz_idx", "bad_truncated", idx(0x0B, (2, 3))[:-1], (0, 0))
seed("fuzz_idx", "bad_trailing", idx(0x0B, (2, 3)) + b"\0", (0, 0))
seed("fuzz_idx", "bad_overflow", bytes([0, 0, 0x0E, 3]) + b"\xff\xff\xff\xff" * 3, (0, 0))
seed("fuzz_idx", "bad_magic", b"\x00\x01\x08\x01\x00\x00\x00\x00", (0, 0))

# ---- gzip helpers ---------------------------------------------------------------------------
def deflate(data, level=6, strategy=zlib.Z_DEFAULT_STRATEGY, mem=8, wbits=15, flush_at=None):
    c = zlib.compressobj(level, zlib.DEFLATED, -wbits, mem, strategy)
    if flush_at is None:
        return c.compress(data) + c.flush()
    return c.compress(data[:flush_at]) + c.flush(zlib.Z_FULL_FLUSH) + c.compress(data[flush_at:]) + c.flush()

def member(data, raw, flags=0):
    h = bytearray(b"\x1f\x8b\x08" + bytes([flags]) + b"\x01\x02\x03\x04\x00\x03")
    if flags & 4:
        h += b"\x0b\x00AB\x03\x00xyzCD\x00\x00"
    if flags & 8:
        h += b"train-images-idx3-ubyte\x00"
    if flags & 16:
        h += b"a comment\x00"
    if flags & 2:
        h += struct.pack("<H", zlib.crc32(bytes(h)) & 0xFFFF)
    return bytes(h) + raw + struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF)

def gz(data, flags=0, **kw):
    return member(data, deflate(data, **kw), flags)

# ---- fuzz_idx_any: gzipped IDX --------------------------------------------------------------
for name in ("u8_3d", "i16_2d", "f64_1d", "u8_images_10x28x28", "u8_labels_10", "u8_empty"):
    for level in (0, 1, 6, 9):
        seed("fuzz_idx_any", "%s_gz%d" % (name, level), gz(plain[name], level=level), (0, 0))
seed("fuzz_idx_any", "u8_3d_gz_flags", gz(plain["u8_3d"], flags=0x1F), (0, 0))
half = len(plain["f32_3d"]) // 2
seed("fuzz_idx_any", "f32_3d_two_members",
     gz(plain["f32_3d"][:half]) + gz(plain["f32_3d"][half:], level=1), (0, 0))
seed("fuzz_idx_any", "u8_3d_gz_limit", gz(plain["u8_3d"]), (11, 2))
seed("fuzz_idx_any", "u8_3d_gz_trailing", gz(plain["u8_3d"] + b"\0"), (0, 0))
seed("fuzz_idx_any", "u8_3d_gz_truncated", gz(plain["u8_3d"][:-1]), (0, 0))

# ---- fuzz_gzip: options (o2, o1, o0): cap = (o1 | o2 << 8) << ((o0 >> 2) & 3) -------------------
text = (b"Fashion-MNIST is a dataset of Zalando's article images: 60,000 training and 10,000 "
        b"test examples, each a 28x28 grayscale image with a label from 10 classes. ") * 6
payloads = {"text": text, "idx": plain["u8_images_10x28x28"][:1200], "zeros": bytes(3000),
            "bytes": bytes((i * 7919 + (i >> 3)) % 251 for i in range(700)), "empty": b""}
CAP = (0xFF, 0xFF, 0)                                   # 65535 bytes
for pn, p in payloads.items():
    for level in (0, 1, 6, 9):
        seed("fuzz_gzip", "%s_l%d" % (pn, level), gz(p, level=level), CAP)
strategies = {"filtered": zlib.Z_FILTERED, "huffman": zlib.Z_HUFFMAN_ONLY, "rle": zlib.Z_RLE,
              "fixed": zlib.Z_FIXED}
for sn, s in strategies.items():
    for pn in ("text", "zeros", "bytes"):
        seed("fuzz_gzip", "%s_%s" % (pn, sn), gz(payloads[pn], strategy=s), CAP)
seed("fuzz_gzip", "text_mem1", gz(text, level=9, mem=1), CAP)
seed("fuzz_gzip", "text_mem9", gz(text, level=9, mem=9), CAP)
seed("fuzz_gzip", "text_window9", gz(text, wbits=9), CAP)
seed("fuzz_gzip", "text_full_flush", gz(text, flush_at=300), CAP)
for flags in (1, 2, 4, 8, 16, 0x1F):
    seed("fuzz_gzip", "text_flags_%02x" % flags, gz(text[:200], flags=flags), CAP)
seed("fuzz_gzip", "members_3", gz(b"one ") + gz(b"two ", level=0) + gz(b"", level=9), CAP)
seed("fuzz_gzip", "text_cap_exact", gz(text), (len(text) >> 8, len(text) & 0xFF, 0))
seed("fuzz_gzip", "text_cap_small", gz(text), (0, 100, 0))
seed("fuzz_gzip", "text_out_null", gz(b""), (0, 0, 1))
seed("fuzz_gzip", "text_err_null", gz(text, level=1), (0xFF, 0xFF, 2))
seed("fuzz_gzip", "bad_crc", gz(text)[:-8] + b"\0\0\0\0" + gz(text)[-4:], CAP)
seed("fuzz_gzip", "bad_trailing", gz(b"abc") + b"\0", CAP)
seed("fuzz_gzip", "bad_truncated", gz(text)[:-20], CAP)
print("make_corpus.py: %d seeds written" % count)
EOF
du -sh "$dir"
