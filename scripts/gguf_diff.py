#!/usr/bin/env python3
"""Compares the tensor data of two GGUF files tensor by tensor (by name).

  scripts/gguf_diff.py A.gguf B.gguf

Prints one line per tensor whose type, shape or bytes differ, then a summary
("N of M tensors byte-identical"); exits 0 when every tensor of A is in B
with the same type, shape and bytes, else 1. Metadata is not compared. An
independent reader (Python standard library only) of the GGUF layout: header,
metadata values (skipped), tensor infos, general.alignment, data section.
"""
import struct
import sys

SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


class Reader:
    def __init__(self, data, path):
        self.d, self.p, self.path = data, 0, path

    def take(self, fmt):
        n = struct.calcsize("<" + fmt)
        if self.p + n > len(self.d):
            sys.exit(f"{self.path}: truncated at byte {self.p}")
        v = struct.unpack_from("<" + fmt, self.d, self.p)
        self.p += n
        return v[0] if len(v) == 1 else v

    def string(self):
        n = self.take("Q")
        if self.p + n > len(self.d):
            sys.exit(f"{self.path}: truncated string at byte {self.p}")
        s = self.d[self.p:self.p + n].decode("utf-8", "replace")
        self.p += n
        return s

    def value(self, t):
        if t == 8:
            return self.string()
        if t == 9:
            et, n = self.take("I"), self.take("Q")
            return [self.value(et) for _ in range(n)]
        if t not in SCALARS:
            sys.exit(f"{self.path}: unknown value type {t}")
        return self.take(SCALARS[t])


def tensors(path):
    with open(path, "rb") as f:
        data = f.read()
    r = Reader(data, path)
    if data[:4] != b"GGUF":
        sys.exit(f"{path}: not a GGUF file")
    r.p = 4
    version, n_tensors, n_kv = r.take("I"), r.take("Q"), r.take("Q")
    if version < 2:
        sys.exit(f"{path}: GGUF version {version} not supported")
    alignment = 32
    for _ in range(n_kv):
        key = r.string()
        v = r.value(r.take("I"))
        if key == "general.alignment":
            alignment = v
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        dims = [r.take("Q") for _ in range(r.take("I"))]
        infos.append((name, dims, r.take("I"), r.take("Q")))
    start = (r.p + alignment - 1) // alignment * alignment
    ends = sorted({off for _, _, _, off in infos} | {len(data) - start})
    out = {}
    for name, dims, ggml_type, off in infos:
        end = next(e for e in ends if e > off)
        out[name] = (dims, ggml_type, data[start + off:start + end])
    return out


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    a, b = tensors(sys.argv[1]), tensors(sys.argv[2])
    same = 0
    for name, (dims, t, blob) in a.items():
        if name not in b:
            print(f"{name}: only in {sys.argv[1]}")
            continue
        dims2, t2, blob2 = b[name]
        if (dims, t) != (dims2, t2):
            print(f"{name}: type {t} shape {dims} vs type {t2} shape {dims2}")
        elif blob.rstrip(b"\0") != blob2.rstrip(b"\0"):  # the padding after may differ in length
            n = min(len(blob), len(blob2))
            first = next((i for i in range(n) if blob[i] != blob2[i]), n)
            print(f"{name}: type {t}: bytes differ from offset {first}")
        else:
            same += 1
    print(f"{same} of {len(a)} tensors byte-identical")
    return 0 if same == len(a) and len(a) == len(b) else 1


if __name__ == "__main__":
    sys.exit(main())
