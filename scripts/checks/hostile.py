#!/usr/bin/env python3
"""The hostile-input suite: generates several hundred bad files and options and runs the CLI on each.

Every case is a bad input. Each must end with a non-zero exit and no signal, within the time limit, with an error on
stderr that is one line starting "Error: " (and, where the case names one, that mentions what is wrong), and nothing
on stdout. Python's standard library only: the files are written byte by byte (protobuf, pickle, zip, npy,
safetensors), so the suite needs no NumPy, ONNX or PyTorch.

Usage: scripts/checks/hostile.py PATH_TO_CURVATURE [--keep DIR] [--family NAME] [--list]
"""
import argparse
import warnings
import concurrent.futures
import json
import os
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib

warnings.filterwarnings("ignore")  # zipfile warns about the duplicate members written on purpose
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
MLP = os.path.join(ROOT, "Tests/ModelImportTests/Fixtures/mlp.onnx")
MLP_PT = os.path.join(ROOT, "Tests/ModelImportTests/Fixtures/mlp.pt")
DIGITS = os.path.join(ROOT, "Examples/data/digits.npz")
FIXTURES = os.path.join(ROOT, "Tests/ModelFormatsTests/Fixtures")
TIME_LIMIT = 60
# Under a regular file, so no directory can be made there, even by root.
UNWRITABLE = DIGITS + "/dir"


class Cases:
    """Collects (family, name, argv, expected) cases; files go under `work`."""

    def __init__(self, work):
        self.work = work
        self.cases = []
        self.family = "?"

    def path(self, name):
        return os.path.join(self.work, self.family, name)

    def write(self, name, data):
        path = self.path(name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        return path

    def add(self, name, argv, expect=None):
        self.cases.append((self.family, name, [str(a) for a in argv], expect))


# ---------------------------------------------------------------------------------------------------------------
# Encoders

def npy(shape, descr="<f4", data=None, header=None, magic=b"\x93NUMPY", version=(1, 0), fortran="False"):
    if header is None:
        shape_text = "(" + "".join(f"{s}, " if len(shape) == 1 else f"{s}, " for s in shape).rstrip(", ") + ("," if len(shape) == 1 else "") + ")"
        header = f"{{'descr': '{descr}', 'fortran_order': {fortran}, 'shape': {shape_text}, }}"
    raw = header.encode("latin1")
    pad = 64 - (len(magic) + 2 + (2 if len(raw) < 65000 else 4) + len(raw) + 1) % 64
    raw = raw + b" " * pad + b"\n"
    if data is None:
        count = 1
        for s in shape:
            count *= max(s, 0)
        data = b"\0" * (count * 4) if count < 1 << 20 else b""
    if len(raw) > 65535 and version == (1, 0):
        version = (2, 0)
    length = struct.pack("<H" if version[0] == 1 else "<I", len(raw))
    return magic + bytes(version) + length + raw + data


def floats(values):
    return struct.pack(f"<{len(values)}f", *values)


def npz(members, compression=zipfile.ZIP_STORED):
    import io
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as z:
        for name, data in members:
            z.writestr(name, data)
    return buffer.getvalue()


def safetensors(header, data=b"", length=None):
    raw = header if isinstance(header, bytes) else json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, wire, payload):
    return varint(number << 3 | wire) + payload


def f_int(number, value):
    return field(number, 0, varint(value))


def f_bytes(number, data):
    data = data.encode() if isinstance(data, str) else data
    return field(number, 2, varint(len(data)) + data)


def tensor(name, dims, dtype=1, values=None, raw=None, extra=b""):
    body = b"".join(f_int(1, d) for d in dims) + f_int(2, dtype) + f_bytes(8, name)
    if raw is None:
        count = 1
        for d in dims:
            count *= d
        values = values if values is not None else [0.1 * ((i * 7) % 11 - 5) for i in range(count)]
        raw = struct.pack(f"<{len(values)}{'f' if dtype == 1 else 'q'}", *values)
    return body + f_bytes(9, raw) + extra


def attr_int(name, value):
    return f_bytes(1, name) + f_int(3, value) + f_int(20, 2)


def attr_ints(name, values):
    return f_bytes(1, name) + b"".join(f_int(8, v) for v in values) + f_int(20, 7)


def attr_float(name, value):
    return f_bytes(1, name) + field(2, 5, struct.pack("<f", value)) + f_int(20, 1)


def attr_str(name, value):
    return f_bytes(1, name) + f_bytes(4, value) + f_int(20, 3)


def attr_tensor(name, t):
    return f_bytes(1, name) + f_bytes(5, t) + f_int(20, 4)


def node(op, inputs, outputs, name="bad", attrs=(), domain=""):
    body = b"".join(f_bytes(1, i) for i in inputs) + b"".join(f_bytes(2, o) for o in outputs) + f_bytes(3, name) + f_bytes(4, op)
    body += b"".join(f_bytes(5, a) for a in attrs)
    return body + (f_bytes(7, domain) if domain else b"")


def value_info(name, dims, elem=1):
    shape = b"".join(f_bytes(1, f_int(1, d) if isinstance(d, int) else f_bytes(2, d)) for d in dims)
    return f_bytes(1, name) + f_bytes(2, f_bytes(1, f_int(1, elem) + f_bytes(2, shape)))


def model(nodes, initializers=(), inputs=None, outputs=None, opset=17, ir=8, extra_graph=b""):
    inputs = [value_info("x", ["N", 1, 8, 8])] if inputs is None else inputs
    outputs = [value_info("logits", ["N", 64])] if outputs is None else outputs
    graph = b"".join(f_bytes(1, n) for n in nodes) + f_bytes(2, "g") + b"".join(f_bytes(5, t) for t in initializers)
    graph += b"".join(f_bytes(11, v) for v in inputs) + b"".join(f_bytes(12, v) for v in outputs) + extra_graph
    opsets = f_bytes(8, f_int(2, opset)) if opset is not None else b""
    return f_int(1, ir) + f_bytes(7, graph) + opsets


def through(bad_nodes, initializers=(), last="h", **kwargs):
    """x [N,1,8,8] -> the nodes under test -> `last` -> Flatten -> logits."""
    return model(list(bad_nodes) + [node("Flatten", [last], ["logits"], name="flatten")], initializers, **kwargs)


def ints_tensor(name, values):
    return tensor(name, [len(values)], dtype=7, values=values)


# Pickle opcodes (protocol 2), enough to write torch.save's data.pkl by hand.
def p_str(s):
    raw = s.encode()
    return b"X" + struct.pack("<I", len(raw)) + raw


def p_int(n):
    return b"J" + struct.pack("<i", n)


def p_global(module, name):
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def p_tuple(items):
    return b"(" + b"".join(items) + b"t"


def torch_pickle(size=(2, 3), stride=None, offset=0, numel=6, key="0", storage="FloatStorage", name="w", rebuild=None):
    stride = stride if stride is not None else (size[1], 1) if len(size) == 2 else (1,) * len(size)
    persistent = p_tuple([p_str("storage"), p_global("torch", storage), p_str(key), p_str("cpu"), p_int(numel)]) + b"Q"
    rebuild = rebuild or p_global("torch._utils", "_rebuild_tensor_v2")
    args = p_tuple([persistent, p_int(offset), p_tuple([p_int(s) for s in size]), p_tuple([p_int(s) for s in stride]),
                    b"\x89", p_global("collections", "OrderedDict") + b")R"])
    return b"\x80\x02}" + p_str(name) + rebuild + args + b"Rs."


def torch_zip(pickle_bytes, storages=None, names=None):
    storages = {"0": floats([0.5] * 6)} if storages is None else storages
    members = [("archive/data.pkl", pickle_bytes)] + [(f"archive/data/{k}", v) for k, v in storages.items()]
    members.append(("archive/version", b"3\n"))
    return npz(members if names is None else names)


# ---------------------------------------------------------------------------------------------------------------
# Families

def safetensors_family(c):
    c.family = "safetensors"
    good_header = {"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}
    data = floats([0.5] * 6)
    files = {
        "empty": b"",
        "seven bytes": b"\x08\0\0\0\0\0\0",
        "header length 2^63": safetensors(good_header, data, length=1 << 63),
        "header length past the end": safetensors(good_header, data, length=10_000),
        "header length zero": safetensors(b"", data),
        "header not UTF-8": safetensors(b"\xff\xfe{}", data),
        "header not JSON": safetensors(b"{'w': 1}", data),
        "header a JSON array": safetensors([1, 2], data),
        "header truncated JSON": safetensors(b'{"w": {"dtype": "F32"', data),
        "entry not an object": safetensors({"w": 3}, data),
        "unknown dtype": safetensors({"w": {"dtype": "F128", "shape": [2, 3], "data_offsets": [0, 24]}}, data),
        "dtype a number": safetensors({"w": {"dtype": 7, "shape": [2, 3], "data_offsets": [0, 24]}}, data),
        "negative extent": safetensors({"w": {"dtype": "F32", "shape": [-2, 3], "data_offsets": [0, 24]}}, data),
        "astronomical shape": safetensors({"w": {"dtype": "F32", "shape": [1 << 40, 1 << 40], "data_offsets": [0, 24]}}, data),
        "shape overflows": safetensors({"w": {"dtype": "F32", "shape": [1 << 32, 1 << 32, 1 << 32], "data_offsets": [0, 24]}}, data),
        "shape not a list": safetensors({"w": {"dtype": "F32", "shape": "2x3", "data_offsets": [0, 24]}}, data),
        "shape of floats": safetensors({"w": {"dtype": "F32", "shape": [2.5, 3], "data_offsets": [0, 24]}}, data),
        "offsets reversed": safetensors({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [24, 0]}}, data),
        "offsets past the data": safetensors({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 2400]}}, data),
        "offsets do not fit the shape": safetensors({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 20]}}, data),
        "negative offsets": safetensors({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [-24, 0]}}, data),
        "offsets missing": safetensors({"w": {"dtype": "F32", "shape": [2, 3]}}, data),
        "offsets 2^64": safetensors({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [18446744073709551615, 24]}}, data),
        "overlapping tensors": safetensors({"a": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]},
                                            "b": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}}, data),
        "gap between tensors": safetensors({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                            "b": {"dtype": "F32", "shape": [2], "data_offsets": [16, 24]}}, data),
        "duplicate names": safetensors(b'{"w": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}, '
                                       b'"w": {"dtype": "F32", "shape": [6], "data_offsets": [0, 24]}}', data),
        "metadata not strings": safetensors({"__metadata__": {"a": 1}, **good_header}, data),
        "trailing garbage in header": safetensors(json.dumps(good_header).encode() + b"garbage", data),
        "data truncated": safetensors(good_header, data[:10]),
        "deeply nested header": safetensors(b"[" * 100000 + b"]" * 100000, data),
        "huge number in header": safetensors({"w": {"dtype": "F32", "shape": [int("9" * 400)], "data_offsets": [0, 24]}}, data),
    }
    for name, contents in files.items():
        path = c.write(name.replace(" ", "_") + ".safetensors", contents)
        c.add(name + ": info", ["info", path])
        c.add(name + ": htsr", ["htsr", path])
    nan = safetensors({"w": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}, floats([float("nan")] * 6))
    c.add("NaN weights as --weights", ["eval", MLP, "--data", "digits", "--limit", "8", "--weights", c.write("nan.safetensors", nan)])
    index = c.write("sharded/model.safetensors.index.json", json.dumps({"weight_map": {"w": "../../../etc/passwd"}}))
    c.add("shard index escaping its directory", ["info", index])
    c.add("shard index naming a missing shard",
          ["info", c.write("missing/model.safetensors.index.json", json.dumps({"weight_map": {"w": "model-00001.safetensors"}}))])
    c.add("shard index not JSON", ["info", c.write("notjson/model.safetensors.index.json", "{")])
    c.add("shard index weight_map a list", ["info", c.write("list/model.safetensors.index.json", json.dumps({"weight_map": []}))])


def numpy_family(c):
    c.family = "numpy"
    files = {
        "bad magic": npy([2, 3], magic=b"\x93NUMPX"),
        "version 9": npy([2, 3], version=(9, 0)),
        "header length past the end": b"\x93NUMPY\x01\x00\xff\xff{'descr'",
        "complex dtype": npy([2, 3], descr="<c16"),
        "object dtype": npy([2, 3], descr="|O"),
        "unicode dtype": npy([2, 3], descr="<U10"),
        "structured dtype": npy([2], header="{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }"),
        "negative extent": npy([-1, 3]),
        "astronomical shape": npy([1 << 40, 1 << 40]),
        "shape overflows": npy([1 << 32, 1 << 32, 1 << 32]),
        "fortran_order not a bool": npy([2, 3], fortran="'maybe'"),
        "header not a dict": npy([2], header="[1, 2, 3]"),
        "header is code": npy([2], header="__import__('os').system('true')"),
        "header missing shape": npy([2], header="{'descr': '<f4', 'fortran_order': False, }"),
        "header unterminated": npy([2], header="{'descr': '<f4', 'fortran_order': False, 'shape': (2,"),
        "data truncated": npy([100, 100], data=b"\0" * 10),
        "empty": b"",
        "deeply nested header": npy([2], header="(" * 50000 + ")" * 50000),
        "huge integer in shape": npy([2], header="{'descr': '<f4', 'fortran_order': False, 'shape': (" + "9" * 500 + ",), }"),
        "zero-size dtype": npy([2], descr="|V0"),
    }
    for name, contents in files.items():
        path = c.write(name.replace(" ", "_") + ".npy", contents)
        c.add(name + ": info", ["info", path])
        c.add(name + ": htsr", ["htsr", path])
        c.add(name + ": as data", ["eval", MLP, "--data", path])


def npz_family(c):
    c.family = "npz"
    x, y = npy([4, 64], data=floats([0.1] * 256)), npy([4], descr="<i8", data=struct.pack("<4q", 0, 1, 2, 3))
    good = npz([("x.npy", x), ("y.npy", y)])
    flipped = bytearray(good)
    flipped[good.index(b"\x93NUMPY") + 140] ^= 0x01
    lying = bytearray(good)
    end = len(good) - 22
    lying[end + 10] += 1
    lying[end + 8] += 1
    bad_directory = bytearray(good)
    bad_directory[end + 16: end + 20] = struct.pack("<I", 0xFFFFFF00)
    bad_local = bytearray(good)
    central = good.index(b"PK\x01\x02")
    bad_local[central + 42: central + 46] = struct.pack("<I", 0x7FFFFFF0)
    zip64_offset = bytearray(good)
    zip64_offset[central + 42: central + 46] = b"\xff\xff\xff\xff"
    # Found by fuzzing: a declared size no deflate stream of the entry's compressed size can reach, reserved up front.
    oversized = bytearray(good)
    oversized[central + 24: central + 28] = struct.pack("<I", 0x7FFFFFF0)
    oversized[22: 26] = struct.pack("<I", 0x7FFFFFF0)
    bomb_member = zlib.compress(b"\0" * (50 << 20))
    # Found by fuzzing: a zip64 end record and locator just before the end record, which ZIPFoundation reads whatever
    # the 32-bit fields say, with a central directory offset past Int64 (ZIPFoundation traps seeking to it).
    record = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, 2, 2, 100, 0xFFFFFFFFFFFFF688)
    zip64_record = bytes(good[:end]) + record + struct.pack("<IIQI", 0x07064B50, 0, end, 1) + bytes(good[end:])
    files = {
        "not a zip": b"not a zip at all",
        "flipped bit in a member": bytes(flipped),
        "entry count lies": bytes(lying),
        "central directory offset past the end": bytes(bad_directory),
        "local header offset past the end": bytes(bad_local),
        "zip64 offset without zip64 field": bytes(zip64_offset),
        "zip64 end record with an offset past Int64": zip64_record,
        "declared size past what deflate gives": bytes(oversized),
        "empty zip": npz([]),
        "member not npy": npz([("x.npy", b"hello"), ("y.npy", y)]),
        "member path traversal": npz([("../../x.npy", x), ("y.npy", y)]),
        "duplicate members": npz([("x.npy", x), ("x.npy", npy([2, 64])), ("y.npy", y)]),
        "nested zip": npz([("x.npy", good), ("y.npy", y)]),
        "bomb": npz([("x.npy", npy([1 << 14, 1 << 14], data=b"\0" * 1000)), ("y.npy", y)], zipfile.ZIP_DEFLATED),
        "deflated garbage": bytes(good[:40]) + bomb_member[:100] + bytes(good[140:]),
    }
    for cut in (10, 30, 100, 200, len(good) - 10):
        files[f"truncated at {cut}"] = good[:cut]
    # info lists names, dtypes and shapes from the headers alone, which these keep whole: only reading the data fails.
    data_only = {"flipped bit in a member", "empty zip", "member path traversal"}
    for name, contents in files.items():
        path = c.write(name.replace(" ", "_") + ".npz", contents)
        if name not in data_only:
            c.add(name + ": info", ["info", path])
        c.add(name + ": as data", ["eval", MLP, "--data", path])
    data_cases = {
        "no x": [("y.npy", y)],
        "no y": [("x.npy", x)],
        "float labels": [("x.npy", x), ("y.npy", npy([4], data=floats([0.5, 1, 2, 3])))],
        "negative labels": [("x.npy", x), ("y.npy", npy([4], descr="<i8", data=struct.pack("<4q", -1, 1, 2, 3)))],
        "labels past the classes": [("x.npy", x), ("y.npy", npy([4], descr="<i8", data=struct.pack("<4q", 0, 1, 2, 99)))],
        "label 2^62": [("x.npy", x), ("y.npy", npy([4], descr="<i8", data=struct.pack("<4q", 0, 1, 2, 1 << 62)))],
        "NaN inputs": [("x.npy", npy([4, 64], data=floats([float("nan")] * 256))), ("y.npy", y)],
        "infinite inputs": [("x.npy", npy([4, 64], data=floats([float("inf")] * 256))), ("y.npy", y)],
        "fewer labels than samples": [("x.npy", x), ("y.npy", npy([3], descr="<i8", data=struct.pack("<3q", 0, 1, 2)))],
        "zero samples": [("x.npy", npy([0, 64], data=b"")), ("y.npy", npy([0], descr="<i8", data=b""))],
        "wrong sample shape": [("x.npy", npy([4, 63], data=floats([0.1] * 252))), ("y.npy", y)],
        "scalar inputs": [("x.npy", npy([], data=floats([0.1]))), ("y.npy", y)],
    }
    for name, members in data_cases.items():
        path = c.write(name.replace(" ", "_") + ".npz", npz(members))
        c.add("data with " + name, ["eval", MLP, "--data", path])
        c.add("data with " + name + ": spectrum", ["spectrum", MLP, "--data", path, "--top-k", "1"])
    c.add("csv with a text cell", ["eval", MLP, "--data", c.write("text.csv", "a,label\nx,1\n")])
    c.add("csv ragged", ["eval", MLP, "--data", c.write("ragged.csv", "a,b,label\n1,2\n")])
    c.add("csv header only", ["eval", MLP, "--data", c.write("header.csv", "a,label\n")])
    c.add("csv NaN", ["eval", MLP, "--data", c.write("nan.csv", "a,label\nnan,1\n")])
    c.add("npy without labels beside it", ["eval", MLP, "--data", c.write("alone/x.npy", x)])


def torch_family(c):
    c.family = "torch"
    storage = {"0": floats([0.5] * 6)}
    nested = b"\x80\x02" + b"]" * 100_000 + b"a" * 99_999 + b"."
    files = {
        "os.system": b"\x80\x02" + p_global("os", "system") + p_tuple([p_str("true")]) + b"R.",
        "posix.system": b"\x80\x02" + p_global("posix", "system") + p_tuple([p_str("true")]) + b"R.",
        "builtins.eval": b"\x80\x02" + p_global("builtins", "eval") + p_tuple([p_str("1")]) + b"R.",
        "builtins.exec": b"\x80\x02" + p_global("builtins", "exec") + p_tuple([p_str("1")]) + b"R.",
        "subprocess.Popen": b"\x80\x02" + p_global("subprocess", "Popen") + p_tuple([p_str("true")]) + b"R.",
        "builtins.getattr": b"\x80\x02" + p_global("builtins", "getattr") + p_tuple([p_str("a"), p_str("b")]) + b"R.",
        "rebuild replaced by os.system": torch_pickle(rebuild=p_global("os", "system")),
        "deep nesting": nested,
        "protocol 9": b"\x80\x09}.",
        "unknown opcode": b"\x80\x02\xff.",
        "no STOP": b"\x80\x02}",
        "stack underflow": b"\x80\x02s.",
        "memo miss": b"\x80\x02h\x07.",
        "LONG4 of 2^31 bytes": b"\x80\x02\x8b\x00\x00\x00\x80.",
        "BINUNICODE of 2^31 bytes": b"\x80\x02X\x00\x00\x00\x80abc.",
        "list appended to itself": b"\x80\x02]q\x00h\x00a.",
        "dict keyed by a list": b"\x80\x02}]K\x01s.",
        "empty": b"",
        "text": b"this is not a pickle",
    }
    for name, pickle_bytes in files.items():
        for kind, contents in (("legacy", pickle_bytes), ("zip", torch_zip(pickle_bytes, storage))):
            path = c.write(f"{name.replace(' ', '_')}_{kind}.pt", contents)
            c.add(f"{name} ({kind}): info", ["info", path])
            if kind == "zip":
                c.add(f"{name} ({kind}): htsr", ["htsr", path])
    tensors = {
        "storage smaller than the tensor": (torch_pickle(size=(20, 30), numel=6), storage),
        "negative stride": (torch_pickle(stride=(-3, 1)), storage),
        "negative offset": (torch_pickle(offset=-4), storage),
        "negative size": (torch_pickle(size=(-2, 3)), storage),
        "astronomical size": (torch_pickle(size=(1 << 30, 1 << 30), stride=(1 << 30, 1), numel=6), storage),
        "stride past the storage": (torch_pickle(stride=(1000, 1)), storage),
        "missing storage": (torch_pickle(key="7"), storage),
        "storage of the wrong length": (torch_pickle(), {"0": floats([0.5] * 2)}),
        "unknown storage type": (torch_pickle(storage="QuantumStorage"), storage),
        "storage numel negative": (torch_pickle(numel=-6), storage),
        "size rank 9 of ones but stride rank 2": (torch_pickle(size=(1,) * 9, stride=(1, 1)), storage),
    }
    for name, (pickle_bytes, storages) in tensors.items():
        path = c.write(name.replace(" ", "_") + ".pt", torch_zip(pickle_bytes, storages))
        c.add(name + ": info", ["info", path])
        c.add(name + ": htsr", ["htsr", path])
        c.add(name + ": as --weights", ["eval", MLP, "--data", "digits", "--limit", "8", "--weights", path])
    no_pickle = npz([("archive/data/0", floats([0.5] * 6)), ("archive/version", b"3\n")])
    c.add("zip without data.pkl", ["info", c.write("no_pickle.pt", no_pickle)])
    with open(MLP_PT, "rb") as f:
        good = f.read()
    for cut in (20, 200, len(good) // 2, len(good) - 30):
        c.add(f"checkpoint truncated at {cut}", ["info", c.write(f"truncated_{cut}.pt", good[:cut])])
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x40
    c.add("checkpoint with a flipped bit", ["eval", MLP, "--data", "digits", "--limit", "8", "--weights", c.write("flipped.pt", bytes(flipped))])


def onnx_family(c):
    c.family = "onnx"
    eval_args = ["--data", "digits", "--input-shape", "1,8,8", "--limit", "8"]

    def case(name, data, expect="'bad'", args=None):
        path = c.write(re.sub(r"[^A-Za-z0-9]+", "_", name) + ".onnx", data)
        c.add(name, ["eval", path] + (eval_args if args is None else args), expect)

    weight = tensor("w", [4, 1, 3, 3])
    bias = tensor("b", [4])

    def conv(attrs, w=weight, b=bias, inputs=("x", "w", "b")):
        return through([node("Conv", list(inputs), ["h"], attrs=attrs)], [w, b] if b is not None else [w])

    case("conv zero stride", conv([attr_ints("strides", [0, 0]), attr_ints("pads", [1, 1, 1, 1])]))
    case("conv negative stride", conv([attr_ints("strides", [-1, 1])]))
    case("conv one stride for two axes", conv([attr_ints("strides", [1])]))
    case("conv zero dilation", conv([attr_ints("dilations", [0, 1])]))
    case("conv negative dilation", conv([attr_ints("dilations", [1, -2])]))
    case("conv negative pads", conv([attr_ints("pads", [-1, -1, -1, -1])]))
    case("conv three pads", conv([attr_ints("pads", [1, 1, 1])]))
    case("conv huge pads", conv([attr_ints("pads", [1 << 40, 0, 0, 0])]))
    case("conv kernel larger than input", conv([], w=tensor("w", [4, 1, 9, 9])))
    case("conv dilated kernel larger than input", conv([attr_ints("dilations", [5, 5])]))
    case("conv zero groups", conv([attr_int("group", 0)]))
    case("conv negative groups", conv([attr_int("group", -1)]))
    case("conv groups not dividing", conv([attr_int("group", 3)], w=tensor("w", [4, 1, 3, 3])))
    case("conv channels do not match", conv([], w=tensor("w", [4, 2, 3, 3])))
    case("conv bias of the wrong length", conv([attr_ints("pads", [1, 1, 1, 1])], b=tensor("b", [5])))
    case("conv kernel_shape disagrees", conv([attr_ints("kernel_shape", [5, 5])]))
    case("conv auto_pad SAME_UPPER", conv([attr_str("auto_pad", "SAME_UPPER")]))
    case("conv 3-D weight", conv([], w=tensor("w", [4, 1, 3, 3, 3])))
    case("conv zero-size kernel", conv([], w=tensor("w", [4, 1, 0, 3], values=[])))
    case("conv missing weight", conv([], inputs=("x", "", "b")))
    case("conv one input", through([node("Conv", ["x"], ["h"])]))

    def pool(op, attrs):
        return through([node(op, ["x"], ["h"], attrs=attrs)])

    for op in ("MaxPool", "AveragePool"):
        case(f"{op} zero kernel", pool(op, [attr_ints("kernel_shape", [0, 0])]))
        case(f"{op} negative kernel", pool(op, [attr_ints("kernel_shape", [-2, 2])]))
        case(f"{op} kernel larger than input", pool(op, [attr_ints("kernel_shape", [20, 20])]))
        case(f"{op} zero stride", pool(op, [attr_ints("kernel_shape", [2, 2]), attr_ints("strides", [0, 0])]))
        case(f"{op} pads as large as the kernel", pool(op, [attr_ints("kernel_shape", [2, 2]), attr_ints("pads", [2, 2, 2, 2])]))
        case(f"{op} negative pads", pool(op, [attr_ints("kernel_shape", [2, 2]), attr_ints("pads", [-1, 0, 0, 0])]))
        case(f"{op} no kernel_shape", pool(op, []))
        case(f"{op} ceil_mode", pool(op, [attr_ints("kernel_shape", [2, 2]), attr_int("ceil_mode", 1)]))
    case("GlobalAveragePool of a matrix", through([node("Flatten", ["x"], ["f"], name="f"), node("GlobalAveragePool", ["f"], ["h"])]))

    def batchnorm(shapes, attrs=()):
        names = ["scale", "bias", "mean", "var"]
        inits = [tensor(n, s, values=[1.0] * (s[0] if s else 1)) for n, s in zip(names, shapes)]
        return through([node("BatchNormalization", ["x"] + names, ["h"], attrs=list(attrs))], inits)

    for i, role in enumerate(["scale", "bias", "mean", "var"]):
        shapes = [[1]] * 4
        shapes[i] = [3]
        case(f"BatchNorm {role} of the wrong length", batchnorm(shapes))
    case("BatchNorm scale of rank 2", batchnorm([[1, 1], [1], [1], [1]]))
    case("BatchNorm negative epsilon", batchnorm([[1]] * 4, [attr_float("epsilon", -1.0)]))
    case("BatchNorm NaN epsilon", batchnorm([[1]] * 4, [attr_float("epsilon", float("nan"))]))
    case("BatchNorm three inputs", through([node("BatchNormalization", ["x", "scale", "bias"], ["h"])],
                                           [tensor("scale", [1]), tensor("bias", [1])]))
    case("LayerNorm scale of the wrong shape", through([node("LayerNormalization", ["x", "scale"], ["h"])], [tensor("scale", [7])]))
    case("LayerNorm axis out of range", through([node("LayerNormalization", ["x", "scale"], ["h"], attrs=[attr_int("axis", 9)])],
                                                [tensor("scale", [8])]))

    def shaped(op, shape_values, extra_attrs=(), data_input="x"):
        return through([node(op, [data_input, "s"], ["h"], attrs=list(extra_attrs))], [ints_tensor("s", shape_values)])

    case("ConstantOfShape negative", through([node("ConstantOfShape", ["s"], ["h"])], [ints_tensor("s", [8, -1])]))
    case("ConstantOfShape astronomical", through([node("ConstantOfShape", ["s"], ["h"])], [ints_tensor("s", [1 << 20, 1 << 20, 1 << 10])]))
    case("ConstantOfShape overflowing", through([node("ConstantOfShape", ["s"], ["h"])], [ints_tensor("s", [1 << 40, 1 << 40, 1 << 40])]))
    case("Expand negative", shaped("Expand", [-8, 1, 8, 8]))
    case("Expand astronomical", shaped("Expand", [1 << 16, 1 << 16, 8, 8]))
    case("Expand not broadcastable", shaped("Expand", [1, 3, 7, 8]))
    case("Reshape two unknowns", shaped("Reshape", [-1, -1]))
    case("Reshape negative extents", shaped("Reshape", [-2, -32]))
    case("Reshape wrong count", shaped("Reshape", [0, 65]))
    case("Reshape copying a missing axis", shaped("Reshape", [0, 0, 0, 0, 0]))
    case("Reshape to a fixed batch of one", shaped("Reshape", [1, 64]))
    case("Reshape allowzero zero extent with -1", shaped("Reshape", [0, 0, -1, 0], extra_attrs=[attr_int("allowzero", 1)]))

    def binary(op, other_shape, dtype=1):
        other = tensor("o", other_shape) if dtype == 1 else tensor("o", other_shape, dtype=7, values=[1] * (1 if not other_shape else other_shape[0]))
        return through([node(op, ["x", "o"], ["h"])], [other])

    for op in ("Add", "Sub", "Mul", "Div", "Pow", "Equal"):
        case(f"{op} shapes that do not broadcast", binary(op, [3, 5]))
        case(f"{op} one input", through([node(op, ["x"], ["h"])]))
    case("MatMul inner dimensions differ", binary("MatMul", [5, 3]))
    case("MatMul batch axes differ", binary("MatMul", [3, 1, 8, 8]))
    case("MatMul with a scalar", through([node("MatMul", ["x", "o"], ["h"])], [tensor("o", [], values=[1.0])]))
    case("Gemm shapes do not multiply", through([node("Flatten", ["x"], ["f"], name="f"), node("Gemm", ["f", "o"], ["h"])],
                                                [tensor("o", [63, 10])]))
    case("Gemm C does not broadcast", through([node("Flatten", ["x"], ["f"], name="f"), node("Gemm", ["f", "o", "c"], ["h"])],
                                              [tensor("o", [64, 10]), tensor("c", [7])]))
    case("Gemm of rank 4", through([node("Gemm", ["x", "o"], ["h"])], [tensor("o", [8, 8])]))
    case("Concat shapes do not fit", through([node("Concat", ["x", "o"], ["h"], attrs=[attr_int("axis", 1)])], [tensor("o", [1, 1, 7, 8])]))
    case("Concat ranks differ", through([node("Concat", ["x", "o"], ["h"], attrs=[attr_int("axis", 1)])], [tensor("o", [1, 8])]))
    case("Concat axis out of range", through([node("Concat", ["x", "x"], ["h"], attrs=[attr_int("axis", 7)])]))
    case("Concat no inputs", through([node("Concat", [], ["h"], attrs=[attr_int("axis", 1)])]))
    case("Split sizes do not add up", through([node("Split", ["x", "s"], ["h", "h2"], attrs=[attr_int("axis", 2)])], [ints_tensor("s", [3, 3])]))
    case("Split negative sizes", through([node("Split", ["x", "s"], ["h", "h2"], attrs=[attr_int("axis", 2)])], [ints_tensor("s", [-8, 16])]))
    case("Split zero outputs", through([node("Split", ["x"], ["h"], attrs=[attr_int("axis", 2), attr_int("num_outputs", 0)])], opset=18))
    case("Where shapes do not broadcast", through([node("Where", ["c", "x", "o"], ["h"])], [ints_tensor("c", [1, 0, 1]), tensor("o", [5])]))
    # Found by fuzzing: 1 against 0 broadcast to 1, so an empty condition passed the check against a full operand.
    case("Where empty axis against a full one", through([node("Where", ["c", "x", "o"], ["h"])],
                                                         [tensor("c", [1, 0, 8, 8], dtype=7, raw=b""), tensor("o", [1, 2, 8, 8])]))
    case("Constant with no output", through([node("Constant", [], [], name="k", attrs=[attr_tensor("value", tensor("v", [1]))]),
                                             node("Relu", ["x"], ["h"])]), expect="'k'")
    case("Where two inputs", through([node("Where", ["c", "x"], ["h"])], [ints_tensor("c", [1])]))
    case("Gather index out of range", through([node("Gather", ["x", "i"], ["h"], attrs=[attr_int("axis", 2)])], [ints_tensor("i", [0, 99])]))
    case("Gather index 2^62", through([node("Gather", ["x", "i"], ["h"], attrs=[attr_int("axis", 2)])], [ints_tensor("i", [1 << 62])]))
    case("Gather axis out of range", through([node("Gather", ["x", "i"], ["h"], attrs=[attr_int("axis", 9)])], [ints_tensor("i", [0])]))
    case("GatherElements ranks differ", through([node("GatherElements", ["x", "i"], ["h"])], [ints_tensor("i", [0])]))
    case("Transpose bad permutation", through([node("Transpose", ["x"], ["h"], attrs=[attr_ints("perm", [0, 0, 1, 2])])]))
    case("Transpose short permutation", through([node("Transpose", ["x"], ["h"], attrs=[attr_ints("perm", [1, 0])])]))
    case("Slice arrays of different lengths", through([node("Slice", ["x", "st", "en", "ax"], ["h"])],
                                                      [ints_tensor("st", [0, 0]), ints_tensor("en", [4]), ints_tensor("ax", [2, 3])]))
    case("Slice step zero", through([node("Slice", ["x", "st", "en", "ax", "sp"], ["h"])],
                                    [ints_tensor("st", [0]), ints_tensor("en", [4]), ints_tensor("ax", [2]), ints_tensor("sp", [0])]))
    case("Slice one axis twice", through([node("Slice", ["x", "st", "en", "ax"], ["h"])],
                                         [ints_tensor("st", [0, 0]), ints_tensor("en", [4, 4]), ints_tensor("ax", [2, 2])]))
    case("Slice extreme bounds", through([node("Slice", ["x", "st", "en", "ax"], ["h"]), node("Concat", ["h", "x"], ["h3"], name="c0", attrs=[attr_int("axis", 9)])],
                                         [ints_tensor("st", [-(1 << 63)]), ints_tensor("en", [(1 << 63) - 1]), ints_tensor("ax", [2])], last="h3"),
         expect="'c0'")
    case("Softmax axis out of range", through([node("Softmax", ["x"], ["h"], attrs=[attr_int("axis", 5)])]))
    case("Flatten axis out of range", through([node("Flatten", ["x"], ["h"], attrs=[attr_int("axis", 9)])]))
    case("Squeeze an axis that is not 1", through([node("Squeeze", ["x", "a"], ["h"])], [ints_tensor("a", [2])]))
    case("Unsqueeze one axis twice", through([node("Unsqueeze", ["x", "a"], ["h"])], [ints_tensor("a", [1, 1])]))
    case("ReduceMean one axis twice", through([node("ReduceMean", ["x", "a"], ["h"])], [ints_tensor("a", [2, 2])], opset=18))
    case("ReduceSum axis out of range", through([node("ReduceSum", ["x", "a"], ["h"])], [ints_tensor("a", [7])]))
    case("integer Mul overflows", through([node("Shape", ["x"], ["s"], name="shape"),
                                           node("Mul", ["s", "big"], ["m"], name="mul"),
                                           node("Reshape", ["x", "m"], ["h"])], [ints_tensor("big", [1 << 62, 1 << 62, 1, 1])]))
    case("integer Pow overflows", through([node("Shape", ["x"], ["s"], name="shape"),
                                           node("Pow", ["s", "big"], ["m"], name="pow"),
                                           node("Reshape", ["x", "m"], ["h"])], [ints_tensor("big", [99, 99, 1, 1])]))
    case("integer Div of the minimum by -1", through([node("Shape", ["x"], ["s"], name="shape"),
                                                      node("Div", ["min", "neg"], ["m"], name="div"),
                                                      node("Reshape", ["x", "m"], ["h"])], [ints_tensor("min", [-(1 << 63)]), ints_tensor("neg", [-1])]))
    case("Cast of NaN to an integer shape", through([node("Sqrt", ["neg"], ["nan"], name="sqrt"),
                                                    node("Cast", ["nan"], ["s"], name="cast", attrs=[attr_int("to", 7)]),
                                                    node("Reshape", ["x", "s"], ["h"])], [tensor("neg", [2], values=[-1.0, 1.0])]),
         expect="'(sqrt|cast|bad)'")
    case("Log of zero pixels", through([node("Log", ["x"], ["h"])]), expect="'bad' \\(Log\\)")
    case("Div by a zero constant", through([node("Div", ["x", "z"], ["h"])], [tensor("z", [1], values=[0.0])]), expect="'bad' \\(Div\\)")
    case("Exp overflowing", through([node("Mul", ["x", "k"], ["m"], name="scale"), node("Exp", ["m"], ["h"])],
                                    [tensor("k", [1], values=[1e6])]), expect="'(bad|scale)'")
    case("unsupported operator", through([node("Einsum", ["x"], ["h"])]), expect="Einsum")
    case("custom domain", through([node("Relu", ["x"], ["h"], domain="com.evil")]), expect="com.evil")
    case("empty operator name", through([node("", ["x"], ["h"])]), expect="unsupported")
    case("reads a value never computed", through([node("Relu", ["nowhere"], ["h"])]), expect="nowhere")
    case("output never computed", model([node("Relu", ["x"], ["h"])]), expect="logits")
    case("two data inputs", through([node("Add", ["x", "x2"], ["h"])], inputs=[value_info("x", ["N", 1, 8, 8]), value_info("x2", ["N", 1, 8, 8])]),
         expect="x2")
    case("no inputs", through([node("Relu", ["x"], ["h"])], inputs=[]), expect="inputs")
    case("no outputs", through([node("Relu", ["x"], ["h"])], outputs=[]), expect="output")
    case("opset 5", through([node("Relu", ["x"], ["h"])], opset=5), expect="opset 5")
    case("opset 99", through([node("Relu", ["x"], ["h"])], opset=99), expect="opset 99")
    case("no opset", through([node("Relu", ["x"], ["h"])], opset=None), expect="opset")
    case("initializer with negative dims", through([node("Add", ["x", "o"], ["h"])], [tensor("o", [-1], raw=b"")]), expect="'o'")
    case("initializer raw data too short", through([node("Add", ["x", "o"], ["h"])], [tensor("o", [64], raw=b"\0" * 8)]), expect="'o'")
    case("initializer raw data too long", through([node("Add", ["x", "o"], ["h"])], [tensor("o", [1], raw=b"\0" * 64)]), expect="'o'")
    case("initializer of an unknown type", through([node("Add", ["x", "o"], ["h"])], [tensor("o", [1], dtype=999, raw=b"\0" * 4)]), expect="'o'")
    case("initializer astronomical", through([node("Add", ["x", "o"], ["h"])], [tensor("o", [1 << 40, 1 << 40], raw=b"")]), expect="'o'")
    case("initializer holding NaN", through([node("Add", ["x", "o"], ["h"])], [tensor("o", [2], values=[float("nan"), 1.0])]), expect="'o'")
    external = (f_bytes(13, f_bytes(1, "location") + f_bytes(2, "../../../../etc/passwd")) + f_int(14, 1))
    case("external data escaping the directory", through([node("Add", ["x", "o"], ["h"])], [tensor("o", [4], raw=b"", extra=external)]),
         expect="outside|inside")
    missing = (f_bytes(13, f_bytes(1, "location") + f_bytes(2, "nowhere.bin")) + f_int(14, 1))
    # A location that names a file inside the directory, but the file is a symbolic link to one outside it.
    linked = (f_bytes(13, f_bytes(1, "location") + f_bytes(2, "linked.bin")) + f_int(14, 1))
    link = c.path("linked.bin")
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if not os.path.lexists(link):
        os.symlink("/etc/passwd", link)
    case("external data through a symbolic link", through([node("Add", ["x", "o"], ["h"])], [tensor("o", [4], raw=b"", extra=linked)]),
         expect="outside")
    case("external data missing", through([node("Add", ["x", "o"], ["h"])], [tensor("o", [4], raw=b"", extra=missing)]), expect="nowhere")
    case("Constant without a value", through([node("Constant", [], ["k"], name="k"), node("Add", ["x", "k"], ["h"])]), expect="'k'")
    case("not protobuf", b"\xff" * 100, expect=None)
    case("empty file", b"", expect=None)
    case("truncated protobuf", conv([])[:50], expect=None)
    case("protobuf length past the end", b"\x3a\xff\xff\xff\xff\x0f" + b"\0" * 10, expect=None)
    case("deeply nested protobuf", b"\x3a\x02" * 1, expect=None)
    good = conv([attr_ints("pads", [1, 1, 1, 1])])
    case("a valid convolution read as data of the wrong shape", good, expect="shape", args=["--data", "digits", "--limit", "8"])
    case("a model taking integers given fractions", through([node("Gather", ["e", "x"], ["h"])], [tensor("e", [16, 4])],
                                                          inputs=[value_info("x", ["N", 1, 8, 8], elem=7)]), expect="integer")


def options_family(c):
    c.family = "options"
    model = [MLP, "--data", "digits", "--limit", "20"]
    spectrum = [
        ["--top-k", "-1"], ["--top-k", "0"], ["--top-k", "100000000"], ["--top-k", "abc"], ["--top-k", "2.5"],
        ["--bottom-k", "-2"], ["--bottom-k", "5000"], ["--steps", "0"], ["--steps", "-5"], ["--density", "slq", "--steps", "1"],
        ["--density", "slq", "--probes", "0"], ["--density", "slq", "--probes", "-1"], ["--trace", "--matvecs", "0"],
        ["--trace", "--matvecs", "-3"], ["--density", "slq", "--grid-points", "0"], ["--density", "slq", "--grid-points", "1000000000"],
        ["--tolerance", "-1"], ["--tolerance", "nan"], ["--tolerance", "inf"], ["--seed", "-1"], ["--seed", "abc"],
        ["--seed", "99999999999999999999999"], ["--batch-size", "0"], ["--batch-size", "-1"], ["--batch-index", "1000000"],
        ["--batch-index", "-1"], ["--limit", "0"], ["--precision", "quad"], ["--format", "yaml"], ["--density", "fourier"],
        ["--trace", "--trace-method", "magic"], ["--method", "arnoldi"], ["--matrix", "jacobian"], ["--input-shape", "0,64"],
        ["--input-shape", "-1"], ["--input-shape", "a,b"], ["--input-shape", "3/2"], ["--mean", "nan"], ["--std", "0"],
        ["--std", "-1"], ["--mean", "1,2,3"], ["--layout", "nchwx"], ["--parameters", "("], ["--parameters", "nothing-matches"],
        ["--resume", UNWRITABLE + "/state.json"], ["--out", UNWRITABLE + "/out.json"], ["--report", UNWRITABLE + "/r.html"],
        ["--plot", UNWRITABLE + "/p.svg", "--density", "slq"], ["--weights", "/nonexistent.pt"], ["--weights", FIXTURES + "/torch/checkpoint.pt"],
        ["--mc-samples", "0", "--matrix", "mc-fisher"], ["--mc-samples", "-4", "--matrix", "mc-fisher"], ["--probe-block", "0", "--trace"],
        ["--x-key", "nothing"], ["--y-key", "nothing"],
    ]
    for extra in spectrum:
        c.add("spectrum " + " ".join(extra), ["spectrum"] + model + extra)
    for data in ["synthetic:samples=100000000000", "synthetic:samples=-1", "synthetic:samples=0", "synthetic:features=100000000000",
                 "synthetic:foo=1", "synthetic:samples", "synthetic:samples=1e9", "synthetic:classes=99999999999999999999",
                 "synthetic:samples=4000000000,features=4000000000", "nonexistent.npz", "data.xyz", ""]:
        c.add("data " + data, ["eval", MLP, "--data", data, "--limit", "8"])
    landscape = [
        ["--grid", "100000x100000"], ["--grid", "0x0"], ["--grid", "3/2"], ["--grid", "-5"], ["--grid", "5xx5"], ["--grid", "1x1x1x1"],
        ["--grid", "99999999999999999999x2"], ["--range", "0:1:100000000"], ["--range", "1:0"], ["--range", "nan:1"], ["--range", "inf:1"],
        ["--range", "a:b"], ["--range", "1"], ["--points", "0"], ["--points", "-3"], ["--points", "10000000000000"], ["--axes", "bogus"],
        ["--axes", "file", "--directions", "/nonexistent.h5"], ["--axes", "file", "--directions", FIXTURES + "/hdf5/keras.h5"],
        ["--axes", "file"], ["--out", UNWRITABLE + "/grid.npz"], ["--out", "grid.xyz"], ["--workers", "0"], ["--workers", "-2"],
        ["--shard", "2/2"], ["--shard", "0/0"], ["--shard", "a/b"], ["--shard", "-1/2"], ["--to", "/nonexistent.pt", "--axes", "interpolate"],
        ["--eigenvalues", "--eigenvalue-matvecs", "0"], ["--resume", UNWRITABLE + "/r.npz"], ["--seed", "-1"],
    ]
    for extra in landscape:
        c.add("landscape " + " ".join(extra), ["landscape"] + model + extra)
    htsr = [["--layers", "("], ["--layers", "[z-a]"], ["--min-evals", "-1"], ["--max-evals", "-1"], ["--fit", "XX"],
            ["--fix-fingers", "bogus"], ["--save-esd", UNWRITABLE + ""], ["--plot", UNWRITABLE + ""], ["--format", "xml"],
            ["--base-model", "/nonexistent.pt"], ["--randomize", "--seed", "-1"], ["--min-evals", "3/2"]]
    for extra in htsr:
        c.add("htsr " + " ".join(extra), ["htsr", os.path.join(ROOT, "Examples/models/digits_mlp.safetensors")] + extra)
    for extra in [["--format", "json", "--limit", "-5"], ["--batch-size", "0"], ["--precision", "half"]]:
        c.add("eval " + " ".join(extra), ["eval", MLP, "--data", "digits"] + extra)
    c.add("unknown subcommand", ["frobnicate"])
    c.add("unknown option", ["info", DIGITS, "--frobnicate"])
    c.add("missing argument", ["info"])
    c.add("directory as a model", ["eval", ROOT, "--data", "digits"])
    c.add("data file as a model", ["eval", DIGITS, "--data", "digits"])
    c.add("device file", ["info", "/dev/zero.npy"])


def output_family(c):
    """Results that cannot be written: a full device through stdout and as files."""
    c.family = "output"
    safet = os.path.join(ROOT, "Examples/models/digits_mlp.safetensors")
    for name, argv in {
        "info": ["info", DIGITS], "htsr": ["htsr", safet], "eval": ["eval", MLP, "--data", "digits", "--limit", "20"],
        "spectrum": ["spectrum", MLP, "--data", "digits", "--limit", "20", "--top-k", "1"],
        "landscape": ["landscape", MLP, "--data", "digits", "--limit", "20", "--points", "3"],
    }.items():
        c.add(name + " to a full stdout", ["--stdout-to-dev-full"] + argv, "No space left")
    c.add("landscape --out a full device", ["landscape", MLP, "--data", "digits", "--limit", "20", "--points", "3", "--out", "/dev/full"])
    c.add("htsr --save-esd into a file", ["htsr", safet, "--save-esd", DIGITS])
    c.add("spectrum --resume a corrupt file", ["spectrum", MLP, "--data", "digits", "--limit", "20", "--top-k", "1", "--trace",
                                               "--resume", c.write("corrupt.json", "{\"rows\": 7")])
    c.add("landscape --resume a corrupt file", ["landscape", MLP, "--data", "digits", "--limit", "20", "--points", "3",
                                                "--resume", c.write("corrupt.npz", "PK\x03\x04 not really")])
    c.add("landscape --resume another kind of file", ["landscape", MLP, "--data", "digits", "--limit", "20", "--points", "3",
                                                      "--resume", DIGITS])
    c.add("landscape merge of nothing readable", ["landscape", "merge", c.write("merge.npz", b"")])
    c.add("landscape merge of data", ["landscape", "merge", DIGITS])


def hdf5_family(c):
    c.family = "hdf5"
    with open(os.path.join(FIXTURES, "hdf5/keras.h5"), "rb") as f:
        good = f.read()
    for cut in (0, 8, 100, 1000, len(good) // 2, len(good) - 100):
        c.add(f"keras.h5 truncated at {cut}", ["info", c.write(f"truncated_{cut}.h5", good[:cut])])
    # HDF5 keeps no checksums on raw data: bytes scrambled inside a dataset's values (offsets 200 and 800 here) read
    # as other numbers, which no reader can tell from the real ones, so only the structural offsets are tried.
    for offset in (0, 8, 60):
        flipped = bytearray(good)
        for k in range(offset, min(offset + 16, len(good))):
            flipped[k] ^= 0xFF
        c.add(f"keras.h5 scrambled at {offset}", ["htsr", c.write(f"scrambled_{offset}.h5", bytes(flipped))])
    c.add("text as h5", ["info", c.write("text.h5", "hello")])
    c.add("direction file of another model", ["landscape", MLP, "--data", "digits", "--limit", "20", "--points", "3", "--axes", "file",
                                              "--directions", os.path.join(FIXTURES, "hdf5/directions.h5")])


FAMILIES = [safetensors_family, numpy_family, npz_family, torch_family, onnx_family, options_family, output_family, hdf5_family]


# ---------------------------------------------------------------------------------------------------------------
# Runner

def run(curvature, case, work):
    family, name, argv, expect = case
    stdout_target = subprocess.PIPE
    if argv and argv[0] == "--stdout-to-dev-full":
        argv = argv[1:]
        stdout_target = open("/dev/full", "wb")
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    start = time.monotonic()
    try:
        process = subprocess.run([curvature] + argv, stdin=subprocess.DEVNULL, stdout=stdout_target, stderr=subprocess.PIPE,
                                 cwd=work, env=env, timeout=TIME_LIMIT)
    except subprocess.TimeoutExpired:
        return f"no answer within {TIME_LIMIT} s"
    finally:
        if stdout_target is not subprocess.PIPE:
            stdout_target.close()
    elapsed = time.monotonic() - start
    stderr = process.stderr.decode("utf-8", "replace")
    stdout = (process.stdout or b"").decode("utf-8", "replace")
    if process.returncode < 0:
        return f"killed by signal {signal.Signals(-process.returncode).name}: {stderr.strip()[:300]}"
    if process.returncode == 0:
        return f"exit 0 on a bad input; stdout: {stdout.strip()[:200]}"
    lines = stderr.rstrip("\n").split("\n")
    if not lines[0].startswith("Error: ") or len(lines) != 1:
        return f"exit {process.returncode}, the error is not one line starting 'Error: ': {stderr[:400]!r}"
    if any(word in stderr for word in ("Fatal error", "Program crashed", "Illegal instruction", "Segmentation")):
        return f"a crash report: {stderr[:300]}"
    if stdout.strip():
        return f"stdout is not empty: {stdout[:200]!r}"
    if expect and not re.search(expect, stderr):
        return f"the error does not mention {expect!r}: {stderr.strip()}"
    return None


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("curvature")
    parser.add_argument("--keep", help="write the cases here and keep them")
    parser.add_argument("--family", help="run one family only")
    parser.add_argument("--list", action="store_true", help="list the cases and stop")
    parser.add_argument("--jobs", type=int, default=2)
    arguments = parser.parse_args()
    curvature = os.path.abspath(arguments.curvature)
    work = arguments.keep or tempfile.mkdtemp(prefix="curvature-hostile-")
    os.makedirs(work, exist_ok=True)
    cases = Cases(work)
    for family in FAMILIES:
        family(cases)
    selected = [case for case in cases.cases if arguments.family in (None, case[0])]
    if arguments.list:
        for family, name, argv, _ in selected:
            print(f"{family}\t{name}\t{' '.join(argv)}")
        return 0
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(arguments.jobs) as pool:
        outcomes = list(pool.map(lambda case: run(curvature, case, work), selected))
    failures = [(case, outcome) for case, outcome in zip(selected, outcomes) if outcome]
    counts = {}
    for family, *_ in selected:
        counts[family] = counts.get(family, 0) + 1
    for (family, name, argv, _), outcome in failures:
        print(f"hostile input failed: [{family}] {name}: {outcome}\n  curvature {' '.join(argv)}", file=sys.stderr)
    summary = ", ".join(f"{family} {count}" for family, count in counts.items())
    print(f"hostile inputs: {len(selected) - len(failures)} of {len(selected)} refused cleanly ({summary}) in "
          f"{time.monotonic() - start:.0f} s", file=sys.stderr)
    if not arguments.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
