"""Helpers of the golden-fixture generator: a safetensors writer, float32 rounding and the project's
deterministic random numbers (mulberry32, bit-identical to `rng`/`cpuRandom` in src/ops/cpu.ts)."""
import json
import struct

import numpy as np


def f32(a):
    """Rounds to float32 (what our engine stores) and returns float64 again for exact torch math."""
    return np.asarray(a, dtype=np.float32).astype(np.float64)


def mulberry32(seed, count):
    """The first `count` outputs of src/ops/cpu.ts `rng(seed)`, in [0, 1), as float64.

    JS: a += 0x6d2b79f5; t = a; t = imul(t ^ t>>>15, t | 1); t ^= t + imul(t ^ t>>>7, t | 61);
    return ((t ^ t>>>14) >>> 0) / 2**32. Every step is exact uint32 arithmetic, so numpy reproduces it.
    """
    i = np.arange(1, count + 1, dtype=np.uint64)
    a = ((np.uint64(seed & 0xFFFFFFFF) + i * np.uint64(0x6D2B79F5)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    with np.errstate(over='ignore'):
        t = a
        t = (t ^ (t >> np.uint32(15))) * (t | np.uint32(1))
        t = t ^ (t + (t ^ (t >> np.uint32(7))) * (t | np.uint32(61)))
        t = t ^ (t >> np.uint32(14))
    return t.astype(np.float64) / 4294967296.0


def cpu_random(shape, seed, lo=-1.0, hi=1.0):
    """src/ops/cpu.ts cpuRandom: Math.fround(lo + (hi - lo) * r()) in row-major order."""
    n = int(np.prod(shape))
    r = mulberry32(seed, n)
    return f32(lo + (hi - lo) * r).reshape(shape)


class Writer:
    """Collects named float32 tensors and writes one safetensors file (8-byte header length, JSON header,
    little-endian data), the format src/models/safetensors.ts reads."""

    def __init__(self):
        self.tensors = {}

    def add(self, name, value):
        if name in self.tensors:
            raise KeyError(f'duplicate tensor {name}')
        arr = np.ascontiguousarray(np.asarray(value, dtype=np.float32))
        self.tensors[name] = arr
        return name

    def nbytes(self):
        return sum(a.nbytes for a in self.tensors.values())

    def write(self, path):
        header = {}
        offset = 0
        for name, a in self.tensors.items():
            header[name] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [offset, offset + a.nbytes]}
            offset += a.nbytes
        raw = json.dumps(header, separators=(',', ':')).encode()
        raw += b' ' * ((8 - len(raw) % 8) % 8)
        with open(path, 'wb') as f:
            f.write(struct.pack('<Q', len(raw)))
            f.write(raw)
            for a in self.tensors.values():
                f.write(a.astype('<f4').tobytes())
