#!/usr/bin/python3
"""Golden fixtures for the ml5.js / lengstrom fast-style-transfer net (test/ml5.test.ts).

Regenerate (development only; the tests read the committed files):  /usr/bin/python3 scripts/golden/ml5.py
Needs Debian's python3-torch (1.13) and numpy, and ../shared/assets (the real `wave` net and a Kodak photo).
Writes test/fixtures/golden/ml5.safetensors and ml5.json (their own index, apart from generate.py's).

The graph is written here from NOTES.md of ../shared/assets/stylenets/ml5-lengstrom (lengstrom's
src/transform.py), in PyTorch, reading the checkpoint variables in TensorFlow's layout directly:
  conv      TF SAME zero padding (F.pad with the odd pixel after), no bias, HWIO weight → OIHW
  conv_t    tf.nn.conv2d_transpose SAME stride 2: F.conv_transpose2d(stride 2) cropped to 2H × 2W
            ([K, K, Cout, Cin] weight → PyTorch's [Cin, Cout, K, K])
  IN        scale · (x − mean) / sqrt(biased var + 1e-3) + shift
  output    150 · tanh + 127.5
so that it checks our importer's layout conversion as well as the engine. References are float64 from
float32 values, stored as float32.

Cases:
- ops: conv2d with SAME padding (stride 2 on even and odd sizes) and conv2dTranspose, with the gradients of
  sum(y · R).
- small: a width-0.125 net (4/8/16 channels) with random weights stored as ml5 variables (TF layout), on a
  batch of 2 random images 20 × 24, output of the float64 graph.
- wave: the real `wave` net on a 96 × 96 crop of kodim23 (offset 200, 160): the crop (pixels) and the float64
  output. The weights are not stored (they stay in ../shared).
"""
import json
import os
import struct
import sys
import zlib

import numpy as np
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in the repository
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from fixtures import Writer, f32  # noqa: E402

ROOT = os.path.join(HERE, '..', '..')
OUT = os.path.join(ROOT, 'test', 'fixtures', 'golden')
SHARED = os.path.join(ROOT, '..', 'shared', 'assets')
WAVE = os.path.join(SHARED, 'stylenets', 'ml5-lengstrom', 'wave')
PHOTO = os.path.join(SHARED, 'photos', 'kodak24', 'kodim23.png')
CROP = {'top': 200, 'left': 160, 'size': 96}
EPS = 1e-3
torch.set_num_threads(1)


def T(a, grad=False, dtype=torch.float64):
    t = torch.tensor(np.asarray(a), dtype=dtype)
    t.requires_grad_(grad)
    return t


# ------------------------------------------------------------------ the graph


def same_pad(x, k, s):
    """TensorFlow SAME: ceil(n / s) outputs; the padding split with the odd pixel after."""
    def amount(n):
        total = max((-(-n // s) - 1) * s + k - n, 0)
        return total // 2, total - total // 2
    (top, bottom), (left, right) = amount(x.shape[2]), amount(x.shape[3])
    return F.pad(x, (left, right, top, bottom))


def conv(x, w_hwio, stride):
    w = w_hwio.permute(3, 2, 0, 1)
    return F.conv2d(same_pad(x, w.shape[-1], stride), w, stride=stride)


def conv_t(x, w_kkoi, bias=None, stride=2):
    """tf.nn.conv2d_transpose with padding SAME and output stride·H × stride·W."""
    w = w_kkoi.permute(3, 2, 0, 1)
    k = w.shape[-1]
    before = max(k - stride, 0) // 2
    y = F.conv_transpose2d(x, w, bias, stride=stride)
    h, wd = stride * x.shape[2], stride * x.shape[3]
    return y[:, :, before:before + h, before:before + wd]


def inorm(x, shift, scale):
    mean = x.mean(dim=(2, 3), keepdim=True)
    var = ((x - mean) ** 2).mean(dim=(2, 3), keepdim=True)
    return scale[None, :, None, None] * (x - mean) / torch.sqrt(var + EPS) + shift[None, :, None, None]


def ml5_net(v, x):
    """v: Variable, Variable_1, ... (TF layout, torch tensors); x: [N, 3, H, W] pixels 0..255."""
    def layer(i, y, stride=1, relu=True, transposed=False):
        w, shift, scale = v[3 * i], v[3 * i + 1], v[3 * i + 2]
        y = conv_t(y, w) if transposed else conv(y, w, stride)
        y = inorm(y, shift, scale)
        return F.relu(y) if relu else y
    y = layer(0, x)
    y = layer(1, y, 2)
    y = layer(2, y, 2)
    for k in range(5):
        h = layer(3 + 2 * k, y)
        y = y + layer(4 + 2 * k, h, relu=False)
    y = layer(13, y, transposed=True)
    y = layer(14, y, transposed=True)
    y = layer(15, y, relu=False)
    return torch.tanh(y) * 150 + 127.5


def variable_shapes(c1, c2, c3):
    shapes = []
    def add(w, c):
        shapes.extend([w, [c], [c]])
    add([9, 9, 3, c1], c1)
    add([3, 3, c1, c2], c2)
    add([3, 3, c2, c3], c3)
    for _ in range(10):
        add([3, 3, c3, c3], c3)
    add([3, 3, c2, c3], c2)
    add([3, 3, c1, c2], c1)
    add([9, 9, c1, 3], 3)
    return shapes


# ------------------------------------------------------------------ PNG (8-bit RGB/RGBA, non-interlaced)


def read_png(path):
    data = open(path, 'rb').read()
    assert data[:8] == b'\x89PNG\r\n\x1a\n', path
    pos, idat, width = 8, b'', None
    while pos < len(data):
        length, kind = struct.unpack('>I4s', data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b'IHDR':
            width, height, depth, colour, _, _, interlace = struct.unpack('>IIBBBBB', body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, 'only 8-bit RGB(A) non-interlaced PNGs'
            channels = 3 if colour == 2 else 4
        elif kind == b'IDAT':
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * channels
    out = np.zeros((height, stride), dtype=np.int32)
    prev = np.zeros(stride, dtype=np.int32)
    for y in range(height):
        f = raw[y * (stride + 1)]
        line = np.frombuffer(raw, dtype=np.uint8, count=stride, offset=y * (stride + 1) + 1).astype(np.int32)
        cur = np.zeros(stride, dtype=np.int32)
        for i in range(stride):
            a = cur[i - channels] if i >= channels else 0
            b = prev[i]
            c = prev[i - channels] if i >= channels else 0
            if f == 0:
                pred = 0
            elif f == 1:
                pred = a
            elif f == 2:
                pred = b
            elif f == 3:
                pred = (a + b) // 2
            else:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
            cur[i] = (line[i] + pred) & 255
        out[y] = cur
        prev = cur
    return out.reshape(height, width, channels)[:, :, :3]


# ------------------------------------------------------------------ cases


def op_cases(w, rng):
    cases = []

    def case(name, op, attrs, inputs, fn):
        tin = [None if a is None else T(a, grad=True) for a in inputs]
        y = fn(*tin)
        upstream = f32(rng.uniform(-1, 1, tuple(y.shape)))
        (y * T(upstream)).sum().backward()
        names = [None if a is None else w.add(f'{name}/{k}', a) for k, a in zip(['x', 'weight', 'bias'], inputs)]
        cases.append({
            'name': name, 'op': op, 'attrs': attrs, 'inputs': names,
            'output': w.add(f'{name}/output', y.detach().numpy()),
            'upstream': w.add(f'{name}/upstream', upstream),
            'grads': [None if t is None else w.add(f'{name}/grad_{k}', t.grad.numpy()) for k, t in zip(['x', 'weight', 'bias'], tin)],
        })

    def rand(*shape):
        return f32(rng.uniform(-1, 1, shape))

    # conv2d in our layout (OIHW), TF SAME padding: attrs are filled in by the test from tfSameConv2dAttrs.
    for name, xs, ws, stride in [('conv2d_same/k3_s2_even', (2, 3, 6, 8), (5, 3, 3, 3), 2),
                                 ('conv2d_same/k3_s2_odd', (2, 5, 7, 5), (6, 5, 3, 3), 2),
                                 ('conv2d_same/k9_s1', (1, 3, 10, 12), (4, 3, 9, 9), 1)]:
        k = ws[-1]
        case(name, 'conv2d', {'tfSame': True, 'kernel': k, 'stride': stride}, [rand(*xs), rand(*ws), None],
             lambda x, wt, b, k=k, s=stride: F.conv2d(same_pad(x, k, s), wt, stride=s))
    # conv2dTranspose in our layout [Cin, Cout, K, K] = PyTorch's.
    for name, xs, ws, bias in [('conv2d_transpose/k3_s2', (2, 5, 3, 4), (5, 3, 3, 3), True),
                               ('conv2d_transpose/k3_s2_16to9', (1, 16, 4, 5), (16, 9, 3, 3), False)]:
        inputs = [rand(*xs), rand(*ws), rand(ws[1]) if bias else None]
        def fn(x, wt, b):
            y = F.conv_transpose2d(x, wt, b, stride=2)
            return y[:, :, :2 * x.shape[2], :2 * x.shape[3]]
        case(name, 'conv2dTranspose', {'stride': 2}, inputs, fn)
    return cases


def small_net(w, rng):
    width = 0.125
    c1, c2, c3 = round(32 * width), round(64 * width), round(128 * width)
    variables = []
    for i, shape in enumerate(variable_shapes(c1, c2, c3)):
        if len(shape) == 4:
            fan_in = shape[0] * shape[1] * shape[2]
            b = 1 / np.sqrt(fan_in)
            variables.append(f32(rng.uniform(-b, b, shape)))
        elif i % 3 == 1:
            variables.append(f32(rng.uniform(-0.5, 0.5, shape)))  # shift
        else:
            variables.append(f32(rng.uniform(0.5, 1.5, shape)))  # scale
    x = f32(rng.uniform(0, 255, (2, 3, 20, 24)))
    y = ml5_net([T(v) for v in variables], T(x)).numpy()
    y32 = ml5_net([T(v, dtype=torch.float32) for v in variables], T(x, dtype=torch.float32)).numpy()
    names = [w.add(f'small/Variable{"" if i == 0 else f"_{i}"}', v) for i, v in enumerate(variables)]
    return {
        'widthMultiplier': width, 'variables': names, 'shapes': [list(v.shape) for v in variables],
        'input': w.add('small/input', x), 'output': w.add('small/output', y),
        'fp32Drift': float(np.abs(y32 - y).max() / np.abs(y).max()),
    }


def read_variables(folder):
    manifest = json.load(open(os.path.join(folder, 'manifest.json')))
    out = []
    for i in range(48):
        e = manifest['Variable' if i == 0 else f'Variable_{i}']
        out.append(np.fromfile(os.path.join(folder, e['filename']), dtype='<f4').reshape(e['shape']).astype(np.float64))
    return out


def wave(w):
    photo = read_png(PHOTO)
    t, l, s = CROP['top'], CROP['left'], CROP['size']
    crop = photo[t:t + s, l:l + s].astype(np.float64).transpose(2, 0, 1)[None]
    with torch.no_grad():
        y = ml5_net([T(v) for v in read_variables(WAVE)], T(crop)).numpy()
    return {
        'photo': 'photos/kodak24/kodim23.png', 'crop': CROP, 'net': 'stylenets/ml5-lengstrom/wave',
        'input': w.add('wave/input', crop), 'output': w.add('wave/output', y),
    }


def main():
    w = Writer()
    rng = np.random.default_rng(11)
    index = {
        'generatedBy': 'scripts/golden/ml5.py', 'torch': torch.__version__, 'numpy': np.__version__,
        'note': 'inputs are float32 values; references computed by PyTorch in float64 and stored as float32',
        'file': 'ml5.safetensors',
        'ops': op_cases(w, rng),
        'small': small_net(w, rng),
        'wave': wave(w),
    }
    w.write(os.path.join(OUT, 'ml5.safetensors'))
    with open(os.path.join(OUT, 'ml5.json'), 'w') as f:
        json.dump(index, f, indent=1)
        f.write('\n')
    print(f'wrote {OUT}/ml5.safetensors ({w.nbytes() / 1e6:.2f} MB) and ml5.json')


if __name__ == '__main__':
    main()
