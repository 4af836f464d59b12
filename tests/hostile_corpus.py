"""A corpus of hostile and broken files, written on demand (nothing binary is checked in).

Each case is ``(name, loader, make)``: ``make(path, marker)`` writes the file (``marker``
is a path that a payload would create if it ran), ``loader`` says which reader gets it:

* ``"runs"`` -- :func:`landscape.experiments.run_files.load_runs` and
  ``python -m landscape thresholds FILE``;
* ``"spectrum"`` -- :meth:`landscape.theory.spectral_model.SpectralModel.load` and
  ``python -m landscape predict --spectrum FILE``;
* ``"idx"`` -- :func:`landscape.models.datasets.read_idx` (no command reads IDX files).

Pickles are assembled opcode by opcode (:class:`Asm`) where Python's pickler would not
write them; the gadgets of section 1 and 2 of issue 9 are among them.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import pickle
import struct
import zipfile
import zlib

import numpy as np

MULTIARRAY = "numpy._core.multiarray"
NUMERIC = "numpy._core.numeric"


# --------------------------------------------------------------------------- a pickle assembler
class Asm:
    """Protocol-4 opcodes as bytes: ``Asm.call(Asm.glob("m", "f"), a, b)`` and so on."""

    @staticmethod
    def glob(module, name):
        return b"c" + module.encode() + b"\n" + name.encode() + b"\n"

    @staticmethod
    def val(x):
        if isinstance(x, Op):
            return bytes(x)
        if x is None:
            return b"N"
        if x is True:
            return b"\x88"
        if x is False:
            return b"\x89"
        if isinstance(x, int):
            if 0 <= x < 2 ** 31:
                return b"J" + struct.pack("<i", x)
            raw = x.to_bytes((x.bit_length() + 8) // 8, "little", signed=True)
            return b"\x8a" + bytes([len(raw)]) + raw
        if isinstance(x, float):
            return b"G" + struct.pack(">d", x)
        if isinstance(x, str):
            raw = x.encode()
            return b"X" + struct.pack("<I", len(raw)) + raw
        if isinstance(x, bytes):
            return b"B" + struct.pack("<I", len(x)) + x
        if isinstance(x, tuple):
            return b"(" + b"".join(Asm.val(v) for v in x) + b"t"
        if isinstance(x, list):
            return b"]" + (b"(" + b"".join(Asm.val(v) for v in x) + b"e" if x else b"")
        if isinstance(x, dict):
            return b"}" + (b"(" + b"".join(Asm.val(k) + Asm.val(v) for k, v in x.items()) + b"u" if x else b"")
        raise TypeError(type(x))

    @staticmethod
    def call(func, *args):
        return Op(Asm.val(func) + Asm.val(tuple(args)) + b"R")

    @staticmethod
    def build(obj, state):
        return Op(Asm.val(obj) + Asm.val(state) + b"b")

    @staticmethod
    def pickle(obj):
        return b"\x80\x04" + Asm.val(obj) + b"."


class Op(bytes):
    """Assembled opcodes that stand for one value."""


def _g(module, name):
    return Op(Asm.glob(module, name))


def np_dtype(code, state=(3, "<", None, None, None, -1, -1, 0)):
    return Asm.build(Asm.call(_g("numpy", "dtype"), code, False, True), state)


def reference_dict(payload=None, n=2):
    """A small reference-code result dict (Larsen et al.) with ``payload`` in data['extra']."""
    data = {"d": [8 * (i + 1) for i in range(n)], "point_id": [0] * n,
            "full_train_acc": [0.5 + 0.1 * i for i in range(n)], "full_train_loss": [1.0] * n}
    if payload is not None:
        data["extra"] = [payload] + [0] * (n - 1)
    return {"model": "TinyCNN", "dataset": "mnist", "full_d": 1000, "init_iters": 0, "data": data}


def _write(path, blob):
    with open(path, "wb") as fh:
        fh.write(blob)


def asm_case(obj):
    return lambda path, marker: _write(path, Asm.pickle(obj))


# --------------------------------------------------------------------------- section 1: numpy internals
def _object_field_dtype():
    """A 16-byte void dtype with an object field, its flags forced to 0 (hasobject False)."""
    obj_dtype = np_dtype("O8", (3, "|", None, None, None, -1, -1, 63))
    return np_dtype("V16", (3, "|", None, ("a",), {"a": (obj_dtype, 0)}, 16, 1, 0))


def _reconstruct(dtype, shape, data, fortran=False):
    arr = Asm.call(_g(MULTIARRAY, "_reconstruct"), _g("numpy", "ndarray"), (0,), b"b")
    return Asm.build(arr, (1, shape, dtype, fortran, data))


PICKLE_NUMPY_CASES = {
    # the crash of issue 9 section 1: raw bytes taken as object pointers
    "object_field_flags0_reconstruct": lambda: reference_dict(
        _reconstruct(_object_field_dtype(), (1,), b"A" * 16)),
    "object_field_flags0_frombuffer": lambda: reference_dict(
        Asm.call(_g(NUMERIC, "_frombuffer"), b"A" * 16, _object_field_dtype(), (1,), "C")),
    "object_field_flags0_scalar": lambda: reference_dict(
        Asm.call(_g(MULTIARRAY, "scalar"), _object_field_dtype(), b"A" * 16)),
    "out_of_bounds_field_offset": lambda: reference_dict(_reconstruct(
        np_dtype("V8", (3, "|", None, ("a",), {"a": (np_dtype("f8"), 10 ** 9)}, 8, 1, 0)), (1,), b"A" * 8)),
    "plain_dtype_given_fields_by_build": lambda: reference_dict(_reconstruct(
        np_dtype("f8", (3, "|", None, ("a",), {"a": (np_dtype("O8"), 0)}, 8, 1, 0)), (1,), b"A" * 8)),
    "object_dtype_scalar": lambda: reference_dict(
        Asm.call(_g(MULTIARRAY, "scalar"), np_dtype("O8", (3, "|", None, None, None, -1, -1, 63)),
                 b"A" * 8)),
    "object_dtype_frombuffer": lambda: reference_dict(
        Asm.call(_g(NUMERIC, "_frombuffer"), b"A" * 8,
                 np_dtype("O8", (3, "|", None, None, None, -1, -1, 63)), (1,), "C")),
    "old_numpy_names_object_field": lambda: reference_dict(Asm.build(
        Asm.call(_g("numpy.core.multiarray", "_reconstruct"), _g("numpy", "ndarray"), (0,), b"b"),
        (1, (1,), _object_field_dtype(), False, b"A" * 16))),
    "ndarray_called_directly": lambda: reference_dict(
        Asm.call(_g("numpy", "ndarray"), (1,), np_dtype("O8"), b"AAAAAAAA")),
    "array_shape_larger_than_data": lambda: reference_dict(
        _reconstruct(np_dtype("f8"), (300_000_000,), b"\0" * 8)),
    "array_shape_overflows_int64": lambda: reference_dict(
        _reconstruct(np_dtype("f8"), (2 ** 62, 2 ** 62, 0, 2 ** 70), b"")),
    "array_data_as_object_list": lambda: reference_dict(
        _reconstruct(np_dtype("f8"), (2,), [1.0, "x"])),
    "array_state_set_twice": lambda: reference_dict(Asm.build(
        _reconstruct(np_dtype("f8"), (1,), b"\0" * 8), (1, (1,), np_dtype("f8"), False, b"\0" * 8))),
    "dtype_state_set_twice": lambda: reference_dict(Asm.build(np_dtype("f8"),
                                                              (3, "<", None, None, None, -1, -1, 0))),
    "unicode_dtype_wrong_size": lambda: reference_dict(
        _reconstruct(np_dtype("U2", (3, "<", None, None, None, 4, 4, 8)), (1,), b"\0" * 4)),
    "zero_width_dtype": lambda: reference_dict(_reconstruct(np_dtype("S0"), (10 ** 12,), b"")),
    "datetime_dtype": lambda: reference_dict(_reconstruct(np_dtype("M8"), (1,), b"\0" * 8)),
    "reconstruct_of_a_subclass": lambda: reference_dict(Asm.call(
        _g(MULTIARRAY, "_reconstruct"), _g("numpy", "matrix"), (0,), b"b")),
    "array_without_state": lambda: reference_dict(
        Asm.call(_g(MULTIARRAY, "_reconstruct"), _g("numpy", "ndarray"), (0,), b"b")),
    "dtype_as_a_dict_key": lambda: {np_dtype("f8"): 1},
}


# --------------------------------------------------------------------------- section 2: expansion
def _shared_reference_bomb(levels=30, width=10):
    """levels of lists holding ``width`` references to the level below: width**levels leaves."""
    out = b"]\x94"  # EMPTY_LIST MEMOIZE: memo 0
    for k in range(1, levels + 1):
        out += b"](" + (b"h" + bytes([k - 1])) * width + b"e\x94"
    return out


def _deep(n):
    return b"\x80\x04" + b"]" * n + b"a" * (n - 1) + b"."


PICKLE_DOS_CASES = {
    "list_of_range": lambda: Asm.pickle(reference_dict(Asm.call(_g("builtins", "list"),
                                                                Asm.call(_g("builtins", "range"), 10 ** 8)))),
    "set_of_range": lambda: Asm.pickle(reference_dict(Asm.call(_g("builtins", "set"),
                                                               Asm.call(_g("builtins", "range"), 5 * 10 ** 7)))),
    "bytes_of_int": lambda: Asm.pickle(reference_dict(Asm.call(_g("builtins", "bytes"), 10 ** 12))),
    "bytearray_of_int": lambda: Asm.pickle(reference_dict(Asm.call(_g("builtins", "bytearray"), 10 ** 12))),
    "py2_bytes_of_int": lambda: Asm.pickle(reference_dict(Asm.call(_g("__builtin__", "bytes"), 10 ** 12))),
    "set_of_a_string": lambda: Asm.pickle(reference_dict(Asm.call(_g("builtins", "set"), "abc" * 100))),
    "complex_of_strings": lambda: Asm.pickle(reference_dict(Asm.call(_g("builtins", "complex"), "1e999999"))),
    "shared_reference_bomb": lambda: b"\x80\x04" + _shared_reference_bomb() + b".",
    "shared_reference_bomb_as_model_name": lambda: (
        b"\x80\x04}(X\x05\x00\x00\x00model" + _shared_reference_bomb()
        + Asm.val("full_d") + Asm.val(10) + Asm.val("data")
        + Asm.val({"d": [8], "point_id": [0]}) + b"u."),
    "deep_lists_100000": lambda: _deep(100_000),
    "deep_tuples_100000": lambda: b"\x80\x04" + b"(" * 100_000 + b"t" * 100_000 + b".",
    "memo_index_2g": lambda: b"\x80\x02]r\xff\xff\xff\x7f.",
    "memo_get_2g": lambda: b"\x80\x02]j\xff\xff\xff\x7f.",
    "unicode_claims_2_62_bytes": lambda: b"\x80\x04\x8d" + struct.pack("<Q", 2 ** 62) + b"abc.",
    "bytes_claims_2_62_bytes": lambda: b"\x80\x04\x8e" + struct.pack("<Q", 2 ** 62) + b"abc.",
    "long4_claims_2g": lambda: b"\x80\x02\x8b" + struct.pack("<i", 2 ** 31 - 1) + b"\0\0.",
    "frame_claims_2_62_bytes": lambda: b"\x80\x04\x95" + struct.pack("<Q", 2 ** 62) + b"]\x94.",
    "million_marks": lambda: b"\x80\x02" + b"(" * 1_000_000 + b".",
    "cyclic_list": lambda: pickle.dumps(_cyclic(), protocol=2),
    "huge_int_as_full_d": lambda: pickle.dumps({**reference_dict(), "full_d": 7 ** 600_000}),
    "float_1e300_as_d": lambda: pickle.dumps({**reference_dict(),
                                             "data": {"d": [1e300], "point_id": [0]}}),
    "deep_list_as_d_value": lambda: b"\x80\x04}(X\x04\x00\x00\x00data}(X\x01\x00\x00\x00d" +
                                    b"]" * 5000 + b"a" * 4999 + Asm.val("point_id") + Asm.val([0]) +
                                    b"uX\x06\x00\x00\x00full_dK\x01u.",
}


def _cyclic():
    a = []
    a.append(a)
    return {"data": {"d": a, "point_id": [0]}, "full_d": 1}


class _Run:
    def __init__(self, func, *args):
        self.func, self.args = func, args

    def __reduce__(self):
        return self.func, self.args


def _code_payloads(marker):
    import subprocess
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # np.matrix
        matrix = np.matrix([[1.0]])
    return {
        "os_system": _Run(os.system, f"touch {marker}"),
        "eval": _Run(eval, f"open({str(marker)!r}, 'w').close()"),
        "subprocess_call": _Run(subprocess.call, ["touch", str(marker)]),
        "object_array": np.array([1, "x"], dtype=object),
        "structured_array": np.zeros(2, dtype=[("a", "f8"), ("b", "i4")]),
        "datetime_array": np.array(["2020-01-01"], dtype="M8[D]"),
        "matrix": matrix,
        "masked_array": np.ma.masked_array([1.0, 2.0], mask=[0, 1]),
    }


def _code_case(key, protocol):
    def make(path, marker):
        ref = reference_dict(_code_payloads(marker)[key])
        _write(path, pickle.dumps(ref, protocol=protocol))
    return make


def _plain_reference(protocol):
    return pickle.dumps(reference_dict(np.float32(0.5)), protocol=protocol)


def _blob_case(fn):
    return lambda path, marker: _write(path, fn())


# --------------------------------------------------------------------------- npz and npy
def _npy_bytes(header_dict, data=b""):
    header = repr(header_dict).encode()
    pad = 64 - (10 + len(header) + 1) % 64
    header += b" " * pad + b"\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header + data


def _zip(members, compress=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=compress) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buf.getvalue()


def _zip_bomb(n_bytes=64 * 2 ** 20, lie=None):
    """A deflated .npy of zeros: ``n_bytes`` of data in about n_bytes/1000 bytes of file.

    ``lie``: a size written into the zip directory instead of the true one."""
    count = n_bytes // 8
    header = _npy_bytes({"descr": "<f8", "fortran_order": False, "shape": (count,)})
    comp = zlib.compressobj(9, zlib.DEFLATED, -15)
    body = comp.compress(header)
    chunk = b"\0" * (1 << 22)
    for _ in range(n_bytes // len(chunk)):
        body += comp.compress(chunk)
    body += comp.flush()
    size = len(header) + n_bytes if lie is None else lie
    crc = 0
    if lie is None:
        crc = zlib.crc32(header)
        for _ in range(n_bytes // len(chunk)):
            crc = zlib.crc32(chunk, crc)
    name = b"eigenvalues.npy"
    local = struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(body), size, len(name), 0)
    central = struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(body), size,
                          len(name), 0, 0, 0, 0, 0, 0)
    cd = central + name
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 1, 1, len(cd), len(local) + len(name) + len(body), 0)
    return local + name + body + cd + end


def _spectrum_npz(**arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


NPZ_CASES = {
    "zip_bomb_64MB": lambda: _zip_bomb(),
    "zip_bomb_lying_directory": lambda: _zip_bomb(lie=1000),
    "npz_member_not_npy": lambda: _zip({"eigenvalues": b"hello", "offsets.npy": b"x"}),
    "npz_object_dtype_header": lambda: _zip({"eigenvalues.npy": _npy_bytes(
        {"descr": "|O", "fortran_order": False, "shape": (2,)}, pickle.dumps([1, 2]))}),
    "npz_structured_object_header": lambda: _zip({"eigenvalues.npy": _npy_bytes(
        {"descr": [("a", "|O")], "fortran_order": False, "shape": (1,)}, b"A" * 8)}),
    "npz_header_claims_10_12": lambda: _zip({"eigenvalues.npy": _npy_bytes(
        {"descr": "<f8", "fortran_order": False, "shape": (10 ** 12,)}, b"\0" * 64)}),
    "npz_header_garbage": lambda: _zip({"eigenvalues.npy": b"\x93NUMPY\x01\x00\x20\x00{'descr': __import__('os')} \n"}),
    "npz_truncated": lambda: _spectrum_npz(eigenvalues=np.ones(100), offsets=np.ones(100))[:700],
    "npz_bad_crc": lambda: _corrupt_crc(_spectrum_npz(eigenvalues=np.ones(3), offsets=np.ones(3))),
    "npy_file_not_npz": lambda: _npy_bytes({"descr": "<f8", "fortran_order": False, "shape": (1,)}, b"\0" * 8),
    "empty_file": lambda: b"",
    "csv_text": lambda: b"eigenvalues,offsets\n1,2\n",
    "spectrum_complex": lambda: _spectrum_npz(eigenvalues=np.ones(3) * 1j, offsets=np.ones(3)),
    "spectrum_nan": lambda: _spectrum_npz(eigenvalues=np.array([1.0, np.nan]), offsets=np.ones(2)),
    "spectrum_strings": lambda: _spectrum_npz(eigenvalues=np.array(["a", "b"]), offsets=np.ones(2)),
    "spectrum_2d": lambda: _spectrum_npz(eigenvalues=np.ones((2, 2)), offsets=np.ones((2, 2))),
    "spectrum_min_loss_array": lambda: _spectrum_npz(eigenvalues=np.ones(2), offsets=np.ones(2),
                                                     min_loss=np.ones(3)),
    "spectrum_float_multiplicity_1e300": lambda: _spectrum_npz(eigenvalues=np.ones(2), offsets=np.ones(2),
                                                               multiplicities=np.array([1e300, 1.0])),
    "spectrum_multiplicities_overflow": lambda: _spectrum_npz(eigenvalues=np.ones(2), offsets=np.ones(2),
                                                              multiplicities=np.array([2 ** 62, 2 ** 62])),
    "spectrum_missing_offsets": lambda: _spectrum_npz(eigenvalues=np.ones(2)),
}


def _corrupt_crc(blob):
    i = blob.index(b"PK\x03\x04") + 30 + len("eigenvalues.npy") + 130
    return blob[:i] + bytes([blob[i] ^ 0xFF]) + blob[i + 1:]


# --------------------------------------------------------------------------- IDX
def _idx_header(code, shape):
    return struct.pack(">HBB", 0, code, len(shape)) + struct.pack(">" + "I" * len(shape), *shape)


def _gz(data_chunks):
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0) as fh:
        for c in data_chunks:
            fh.write(c)
    return buf.getvalue()


IDX_CASES = {
    "idx_gz_bomb_64MB": lambda: _gz([_idx_header(0x08, (64, 1024, 1024))] + [b"\0" * (1 << 22)] * 16),
    "idx_gz_header_claims_2_96": lambda: _gz([_idx_header(0x0E, (2 ** 32 - 1,) * 3), b"\0" * 64]),
    "idx_header_claims_2_96": lambda: _idx_header(0x0E, (2 ** 32 - 1,) * 3) + b"\0" * 64,
    "idx_gz_truncated": lambda: _gz([_idx_header(0x08, (100, 10)), b"\1" * 1000])[:-30],
    "idx_gz_trailing_data": lambda: _gz([_idx_header(0x08, (10,)), b"\1" * 10 + b"\2" * 10 ** 6]),
    "idx_gz_trailing_garbage": lambda: _gz([_idx_header(0x08, (10,)), b"\1" * 10]) + b"garbage!",
    "idx_bad_type": lambda: struct.pack(">HBB", 0, 0x42, 1) + b"\0\0\0\1x",
    "idx_255_dims": lambda: _idx_header(0x08, (2,) * 255),
    "idx_empty": lambda: b"",
}


# --------------------------------------------------------------------------- text formats
def _deep_json(n):
    return b'[{"kind": "random", "d": 8, "seed": 0, "t": 0, "basis": "x", "train_acc": ' + \
        b"[" * n + b"]" * n + b"}]"


TEXT_CASES = {
    "json_d_1e300.json": lambda: json.dumps([{"kind": "random", "t": 0, "basis": "o", "d": 1e300, "seed": 0,
                                               "train_acc": 0.5}]).encode(),
    "json_d_int_10_30.json": lambda: json.dumps([{"kind": "random", "t": 0, "basis": "o", "d": 10 ** 30,
                                                   "seed": 0, "train_acc": 0.5}]).encode(),
    "json_deep_100000.json": lambda: _deep_json(100_000),
    "json_big_list_value.json": lambda: json.dumps([{"kind": "random", "t": 0, "basis": "o", "d": 8, "seed": 0,
                                                      "train_acc": list(range(100_000))}]).encode(),
    "json_not_records.json": lambda: b'"hello"',
    "json_records_not_dicts.json": lambda: b"[1, 2, 3]",
    "json_dict_of_scalars.json": lambda: b'{"d": 1, "seed": 2}',
    "json_huge_exponent_as_d.json": lambda: b'[{"kind": "random", "t": 0, "basis": "o", "d": 1e999999, '
                                            b'"seed": 0, "train_acc": 0.5}]',
    "json_long_digits.json": lambda: b'[{"kind": "random", "t": 0, "basis": "o", "d": ' + b"9" * 5000 +
                                     b', "seed": 0, "train_acc": 0.5}]',
    "json_non_utf8.json": lambda: b'[{"kind": "random\xff"}]',
    "jsonl_non_utf8_middle.jsonl": lambda: (b'{"kind": "random", "t": 0, "basis": "o", "d": 8, "seed": 0}\n'
                                            b'{"kind": "r\xffandom", "t": 0, "basis": "o", "d": 8, "seed": 1}\n'
                                            b'{"kind": "random", "t": 0, "basis": "o", "d": 8, "seed": 2}\n'),
    "csv_header_only.csv": lambda: b"kind,t,basis,d,seed,train_acc\n",
    "csv_huge_field.csv": lambda: b"kind,d,seed,train_acc\nrandom,8,0," + b"1" * 200_000 + b"\n",
    "csv_nul_bytes.csv": lambda: b"kind,d,seed,train_acc\nrandom,8,0,0.5\0\n",
    "csv_d_1e300.csv": lambda: b"kind,t,basis,d,seed,train_acc\nrandom,0,o,1e300,0,0.5\n",
    "csv_d_inf.csv": lambda: b"kind,t,basis,d,seed,train_acc\nrandom,0,o,inf,0,0.5\n",
    "csv_non_utf8.csv": lambda: b"kind,d\nr\xffandom,8\n",
    "csv_binary_garbage.csv": lambda: bytes(range(256)) * 50,
    "unknown_extension.txt": lambda: b"hello",
}


def _store_non_utf8(path, marker):
    os.makedirs(path)
    with open(os.path.join(path, "runs.jsonl"), "wb") as fh:
        fh.write(b'{"kind": "random", "t": 0, "basis": "o", "d": 8, "seed": 0, "train_acc": 0.5}\n'
                 b'{"kind": "random", "t": 0, "basis": "o", "d": 8, "seed": 1, "train_acc": 0.\xff}\n'
                 b'{"kind": "random", "t": 0, "basis": "o", "d": 8, "seed": 2, "train_acc": 0.5}\n')


def _store_bad_protocol(path, marker):
    os.makedirs(path)
    with open(os.path.join(path, "protocol.json"), "wb") as fh:
        fh.write(b"[" * 100_000)


# --------------------------------------------------------------------------- the corpus
def cases():
    """``[(file name, loader, make)]`` for every case."""
    out = []
    for name, fn in PICKLE_NUMPY_CASES.items():
        out.append((f"{name}.pkl", "runs", asm_case(fn())))
    for name, fn in PICKLE_DOS_CASES.items():
        out.append((f"{name}.pkl", "runs", _blob_case(fn)))
    for protocol in range(6):
        for key in ("os_system", "eval", "subprocess_call", "object_array", "structured_array",
                    "datetime_array", "matrix", "masked_array"):
            out.append((f"p{protocol}_{key}.pkl", "runs", _code_case(key, protocol)))
        blob = _plain_reference(protocol)
        out.append((f"p{protocol}_truncated.pkl", "runs", _blob_case(lambda b=blob: b[: len(b) // 2])))
        out.append((f"p{protocol}_trailing_bytes.pkl", "runs", _blob_case(lambda b=blob: b + b"\x00garbage")))
    out.append(("empty.pkl", "runs", _blob_case(lambda: b"")))
    out.append(("not_a_pickle.pkl", "runs", _blob_case(lambda: b"hello world\n")))
    for name, fn in NPZ_CASES.items():
        out.append((f"{name}.npz", "spectrum", _blob_case(fn)))
        if name.startswith(("zip_bomb", "npz_")):
            out.append((f"runs_{name}.npz", "runs", _blob_case(fn)))
    for name, fn in IDX_CASES.items():
        out.append((f"{name}-idx", "idx", _blob_case(fn)))
    for name, fn in TEXT_CASES.items():
        out.append((name, "runs", _blob_case(fn)))
    out.append(("store_non_utf8", "runs", _store_non_utf8))
    out.append(("store_bad_protocol", "runs", _store_bad_protocol))
    return out


def write_corpus(directory):
    """Write every case into ``directory``; returns ``[(path, loader)]`` and the marker path."""
    marker = os.path.join(directory, "MARKER-payload-ran")
    out = []
    for name, loader, make in cases():
        path = os.path.join(directory, name)
        make(path, marker)
        out.append((path, loader))
    return out, marker


# --------------------------------------------------------------------------- the runner (in a subprocess)
CLI_ARGS = {
    "runs": lambda path: ["thresholds", path, "--level", "0.5", "--n-bootstrap", "10"],
    "spectrum": lambda path: ["predict", "--spectrum", path, "--eps", "0.1", "--n-samples", "10"],
}
MEMORY_CAP = 256 << 20     # bytes a load may add to the address space
CPU_LIMIT = 5.0            # CPU seconds a load may take


class _OutOfTime(BaseException):
    pass


def _vm_size():
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize")  # pragma: no cover


def _capped(call):
    """Run ``call()`` with at most MEMORY_CAP more address space and CPU_LIMIT CPU seconds."""
    import resource
    import signal
    import time

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)

    def alarm(*_):
        raise _OutOfTime()

    old = signal.signal(signal.SIGPROF, alarm)
    resource.setrlimit(resource.RLIMIT_AS, (_vm_size() + MEMORY_CAP, hard))
    signal.setitimer(signal.ITIMER_PROF, CPU_LIMIT)
    t0 = time.process_time()
    try:
        return ("ok", call(), None)
    except _OutOfTime:
        return ("timeout", "_OutOfTime", f"more than {CPU_LIMIT} CPU seconds")
    except BaseException as exc:  # noqa: BLE001 - recorded, judged by the test
        import pickle

        good = isinstance(exc, (ValueError, TypeError, pickle.UnpicklingError, FileNotFoundError))
        return ("error" if good else "bad error", type(exc).__name__, str(exc))
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, old)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        _capped.cpu = time.process_time() - t0


def run_batch(jobs_path, out_path):
    """Load each ``(path, loader)`` of ``jobs_path`` (JSON) through its API and the CLI's
    ``main``, capped, writing one JSON line per attempt to ``out_path`` as it goes."""
    import contextlib
    import warnings

    from landscape.cli import main
    from landscape.experiments.run_files import load_runs
    from landscape.models.datasets import read_idx
    from landscape.theory.spectral_model import SpectralModel

    warnings.simplefilter("ignore")
    api = {"runs": load_runs, "spectrum": SpectralModel.load, "idx": read_idx}
    with open(jobs_path) as fh:
        jobs = json.load(fh)
    with open(out_path, "a") as out:
        for path, loader in jobs:
            modes = ["api"] + (["cli"] if loader in CLI_ARGS else [])
            for mode in modes:
                out.write(json.dumps({"start": path, "mode": mode}) + "\n")
                out.flush()
                if mode == "api":
                    status, kind, msg = _capped(lambda: type(api[loader](path)).__name__)
                    rec = {"status": status, "kind": kind, "msg": msg}
                else:
                    err, std = io.StringIO(), io.StringIO()
                    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(std):
                        status, rc, msg = _capped(lambda: main(CLI_ARGS[loader](path)))
                    rec = {"status": status, "kind": rc if status == "ok" else rc, "msg": msg,
                           "stderr": err.getvalue()[-2000:]}
                rec.update(path=path, mode=mode, cpu=_capped.cpu)
                out.write(json.dumps(rec) + "\n")
                out.flush()


if __name__ == "__main__":
    import sys

    run_batch(sys.argv[1], sys.argv[2])
