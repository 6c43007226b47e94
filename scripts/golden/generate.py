#!/usr/bin/python3
"""Golden fixtures from PyTorch for test/golden-ops.test.ts and test/golden-nets.test.ts.

Regenerate (development only; CI reads the committed files):  /usr/bin/python3 scripts/golden/generate.py
Needs Debian's python3-torch (1.13) and numpy. Writes test/fixtures/golden/{index.json,*.safetensors}.

Every input is a float32 value (what our engine holds); every reference is computed by PyTorch in float64
from those values and stored as float32, so a fixture's own error is one float32 rounding. Each group also
measures how far the same PyTorch computation drifts in plain float32 (`fp32Drift` in index.json): the noise
a correct float32 implementation has to be allowed, which the test tolerances are derived from.
"""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixtures import Writer, cpu_random, f32  # noqa: E402
import nets  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'test', 'fixtures', 'golden')
torch.manual_seed(0)
torch.set_num_threads(1)


def T(a, grad=False, dtype=torch.float64):
    t = torch.tensor(np.asarray(a), dtype=dtype)
    t.requires_grad_(grad)
    return t


def drift(a32, a64):
    """max |float32 result − float64 result| / max |float64 result|."""
    a32 = np.asarray(a32, dtype=np.float64)
    a64 = np.asarray(a64, dtype=np.float64)
    scale = max(np.abs(a64).max(), 1e-30)
    return float(np.abs(a32 - a64).max() / scale)


# ------------------------------------------------------------------ single ops


def op_cases(w):
    cases = []

    def case(name, op, attrs, inputs, fn, seed):
        """loss = sum(y · R) for a fixed random R (R is [1] for the losses); grads of every non-null input."""
        rng = np.random.default_rng(seed)
        tin = [None if a is None else T(a, grad=True) for a in inputs]
        y = fn(*tin)
        upstream = f32(rng.uniform(-1, 1, tuple(y.shape)))
        if y.dim() == 0:
            raise ValueError(name)
        (y * T(upstream)).sum().backward()
        # The same in float32: the size of a correct float32 implementation's error.
        t32 = [None if a is None else T(a, grad=True, dtype=torch.float32) for a in inputs]
        y32 = fn(*t32)
        (y32 * T(upstream, dtype=torch.float32)).sum().backward()
        names = [None if a is None else w.add(f'{name}/{op_name}', a) for a, op_name in zip(inputs, OP_INPUTS[op])]
        entry = {
            'name': name,
            'op': op,
            'attrs': attrs,
            'inputs': names,
            'output': w.add(f'{name}/output', y.detach().numpy()),
            'upstream': w.add(f'{name}/upstream', upstream),
            'grads': [None if t is None else w.add(f'{name}/grad_{n}', t.grad.numpy()) for t, n in zip(tin, OP_INPUTS[op])],
            'fp32Drift': {
                'output': drift(y32.detach().numpy(), y.detach().numpy()),
                'grads': [None if t is None else drift(t3.grad.numpy(), t.grad.numpy()) for t, t3 in zip(tin, t32)],
            },
        }
        cases.append(entry)

    def rand(rng, shape, lo=-1.0, hi=1.0):
        return f32(rng.uniform(lo, hi, shape))

    # conv2d: [x, weight, bias|null] {stride, padding, padMode, upsample}
    def conv(attrs):
        s, p, mode, up = attrs['stride'], attrs['padding'], attrs['padMode'], attrs.get('upsample', 1)

        def fn(x, wt, b):
            if up > 1:
                x = F.interpolate(x, scale_factor=up, mode='nearest')
            if mode == 'reflect':
                return F.conv2d(F.pad(x, (p, p, p, p), mode='reflect'), wt, b, stride=s)
            return F.conv2d(x, wt, b, stride=s, padding=p)

        return fn

    conv_specs = [
        # name, x shape, cout, k, attrs, bias
        ('k3_s1_zeros', (2, 3, 7, 9), 5, 3, {'stride': 1, 'padding': 1, 'padMode': 'zeros'}, True),
        ('k3_s1_reflect', (2, 4, 9, 7), 6, 3, {'stride': 1, 'padding': 1, 'padMode': 'reflect'}, True),
        ('k3_s2_reflect', (2, 4, 9, 11), 6, 3, {'stride': 2, 'padding': 1, 'padMode': 'reflect'}, True),
        ('k3_s2_zeros_nobias', (2, 3, 9, 7), 5, 3, {'stride': 2, 'padding': 1, 'padMode': 'zeros'}, False),
        ('k9_s1_reflect4', (2, 3, 11, 13), 4, 9, {'stride': 1, 'padding': 4, 'padMode': 'reflect'}, True),
        ('k9_s1_zeros4', (2, 2, 7, 9), 3, 9, {'stride': 1, 'padding': 4, 'padMode': 'zeros'}, True),
        ('k1_s1_nobias', (2, 5, 7, 9), 3, 1, {'stride': 1, 'padding': 0, 'padMode': 'zeros'}, False),
        ('k1_s2', (2, 5, 9, 7), 4, 1, {'stride': 2, 'padding': 0, 'padMode': 'zeros'}, True),
        ('k3_s1_wide', (2, 20, 9, 11), 33, 3, {'stride': 1, 'padding': 1, 'padMode': 'reflect'}, True),
        ('resize_k3_up2_reflect1', (2, 4, 5, 7), 3, 3, {'stride': 1, 'padding': 1, 'padMode': 'reflect', 'upsample': 2}, True),
        ('resize_k3_up2_zeros1_s2', (2, 3, 5, 7), 4, 3, {'stride': 2, 'padding': 1, 'padMode': 'zeros', 'upsample': 2}, True),
    ]
    for i, (name, xs, cout, k, attrs, has_bias) in enumerate(conv_specs):
        rng = np.random.default_rng(100 + i)
        cin = xs[1]
        bound = 1 / np.sqrt(cin * k * k)
        x = rand(rng, xs)
        wt = rand(rng, (cout, cin, k, k), -bound, bound)
        b = rand(rng, (cout,), -0.5, 0.5) if has_bias else None
        case(f'conv2d/{name}', 'conv2d', attrs, [x, wt, b], conv(attrs), 500 + i)

    # instanceNorm: [x, gamma, beta] {eps}
    for i, (name, xs, eps, lo, hi) in enumerate([
        ('eps1e-5', (2, 5, 7, 9), 1e-5, -2.0, 3.0),
        ('eps1e-5_big', (2, 3, 16, 16), 1e-5, 0.0, 255.0),
        # Small variance (≈ 0.03²/3 ≈ 3e-4 per plane): eps 1e-3 is a large part of var + eps, so
        # where eps goes (inside the square root, PyTorch) shows.
        ('eps1e-3_smallvar', (2, 4, 5, 7), 1e-3, -0.03, 0.03),
    ]):
        rng = np.random.default_rng(200 + i)
        x = rand(rng, xs, lo, hi)
        g = rand(rng, (xs[1],), 0.5, 1.5)
        b = rand(rng, (xs[1],), -0.5, 0.5)
        case(f'instanceNorm/{name}', 'instanceNorm', {'eps': eps}, [x, g, b],
             lambda x, g, b, eps=eps: F.instance_norm(x, weight=g, bias=b, eps=eps), 600 + i)

    # gram: [x] → [N, C, C] = F Fᵀ / (C·H·W)
    def gram(x):
        n, c, h, wd = x.shape
        f = x.reshape(n, c, h * wd)
        return torch.bmm(f, f.transpose(1, 2)) / (c * h * wd)

    for i, xs in enumerate([(2, 5, 7, 9), (1, 16, 5, 3)]):
        rng = np.random.default_rng(300 + i)
        case(f'gram/{"x".join(map(str, xs))}', 'gram', {}, [rand(rng, xs, -2, 2)], gram, 700 + i)

    # maxPool2d 2×2 stride 2, floor (continuous random values: no ties)
    for i, xs in enumerate([(2, 3, 7, 9), (1, 4, 8, 6)]):
        rng = np.random.default_rng(320 + i)
        case(f'maxPool2d/{"x".join(map(str, xs))}', 'maxPool2d', {}, [rand(rng, xs)], lambda x: F.max_pool2d(x, 2, 2), 720 + i)

    # losses → [1]
    rng = np.random.default_rng(340)
    case('mseLoss/2x3x5x7', 'mseLoss', {}, [rand(rng, (2, 3, 5, 7), -3, 3), rand(rng, (2, 3, 5, 7), -3, 3)],
         lambda a, b: F.mse_loss(a, b).reshape(1), 740)

    def tv(x):
        dx = x[:, :, :, 1:] - x[:, :, :, :-1]
        dy = x[:, :, 1:, :] - x[:, :, :-1, :]
        return (dx.pow(2).mean() + dy.pow(2).mean()).reshape(1)

    for i, xs in enumerate([(2, 3, 7, 9), (1, 3, 16, 16)]):
        rng = np.random.default_rng(350 + i)
        case(f'tvLoss/{"x".join(map(str, xs))}', 'tvLoss', {}, [rand(rng, xs, 0, 255)], tv, 750 + i)

    # elementwise
    rng = np.random.default_rng(360)
    x = rand(rng, (2, 3, 7, 5))
    x[np.abs(x) < 0.01] = 0.5  # keep away from relu's kink
    case('relu/2x3x7x5', 'relu', {}, [x], F.relu, 760)
    case('scaledTanh/2x3x7x5', 'scaledTanh', {'alpha': 150, 'beta': 127.5}, [rand(rng, (2, 3, 7, 5), -3, 3)],
         lambda x: 150 * torch.tanh(x) + 127.5, 761)
    case('add/2x3x7x5', 'add', {}, [rand(rng, (2, 3, 7, 5)), rand(rng, (2, 3, 7, 5))], lambda a, b: a + b, 762)
    case('mul/2x3x7x5', 'mul', {}, [rand(rng, (2, 3, 7, 5)), rand(rng, (2, 3, 7, 5))], lambda a, b: a * b, 763)
    return cases


OP_INPUTS = {
    'conv2d': ['x', 'weight', 'bias'],
    'instanceNorm': ['x', 'gamma', 'beta'],
    'gram': ['x'],
    'maxPool2d': ['x'],
    'mseLoss': ['a', 'b'],
    'tvLoss': ['x'],
    'relu': ['x'],
    'scaledTanh': ['x'],
    'add': ['a', 'b'],
    'mul': ['a', 'b'],
}

# ------------------------------------------------------------------ Adam


def adam_cases(w):
    cases = []
    shapes = {'p0': (3, 5, 7), 'p1': (11,)}
    steps = 3
    for lr in (1e-3, 1e-2):
        rng = np.random.default_rng(400)
        init = {k: f32(rng.uniform(-1, 1, s)) for k, s in shapes.items()}
        # Gradients of different scales per param (Adam is scale-invariant up to eps) and a sign flip.
        grads = [{'p0': f32(rng.uniform(-1, 1, shapes['p0'])), 'p1': f32(rng.uniform(-1e-3, 1e-3, shapes['p1']))} for _ in range(steps)]
        prefix = f'adam/lr{lr:g}'
        entry = {'name': prefix, 'lr': lr, 'betas': [0.9, 0.999], 'eps': 1e-8, 'params': list(shapes), 'steps': steps,
                 'init': {}, 'grads': [], 'after': []}
        for k in shapes:
            entry['init'][k] = w.add(f'{prefix}/init/{k}', init[k])
        for s in range(steps):
            entry['grads'].append({k: w.add(f'{prefix}/step{s + 1}/grad/{k}', grads[s][k]) for k in shapes})
        for dtype in (torch.float64, torch.float32):
            params = {k: T(v, grad=True, dtype=dtype) for k, v in init.items()}
            opt = torch.optim.Adam(list(params.values()), lr=lr, betas=(0.9, 0.999), eps=1e-8)
            after = []
            for s in range(steps):
                for k, p in params.items():
                    p.grad = T(grads[s][k], dtype=dtype)
                opt.step()
                after.append({k: p.detach().numpy().copy() for k, p in params.items()})
            if dtype == torch.float64:
                after64 = after
        entry['after'] = [{k: w.add(f'{prefix}/step{s + 1}/param/{k}', after64[s][k]) for k in shapes} for s in range(steps)]
        entry['fp32Drift'] = max(float(np.abs(after[s][k] - after64[s][k]).max()) for s in range(steps) for k in shapes)
        entry['fp32DriftNote'] = 'max |param_fp32 − param_fp64| after any step (absolute)'
        cases.append(entry)
    return cases


# ------------------------------------------------------------------ TransformNet


def transform_net_group(w, params, x):
    rng = np.random.default_rng(1235)
    upstream = f32(rng.uniform(-1, 1, (1, 3, 16, 16)))
    res = {}
    for dtype in (torch.float64, torch.float32):
        p = {k: T(v, grad=True, dtype=dtype) for k, v in params.items()}
        out = nets.transform_net(p, T(x, dtype=dtype))
        (out * T(upstream, dtype=dtype)).sum().backward()
        res[dtype] = (out.detach().numpy(), {k: t.grad.numpy() for k, t in p.items()})
    out64, g64 = res[torch.float64]
    out32, g32 = res[torch.float32]
    entry = {
        'widthMultiplier': 0.25,
        'input': w.add('tn/input', x),
        'output': w.add('tn/output', out64),
        'upstream': w.add('tn/upstream', upstream),
        'params': {k: w.add(f'tn/param/{k}', v) for k, v in params.items()},
        'grads': {k: w.add(f'tn/grad/{k}', v) for k, v in g64.items()},
        'fp32Drift': {
            'output': drift(out32, out64),
            # Relative to the largest gradient of the same parameter tensor.
            'grads': {k: drift(g32[k], g64[k]) for k in g64},
            # Relative to the largest gradient of the whole net (what a per-net atol sees).
            'gradsNetScale': max(float(np.abs(g32[k] - g64[k]).max()) for k in g64) / max(float(np.abs(v).max()) for v in g64.values()),
        },
    }
    return entry


# ------------------------------------------------------------------ VGG


def vgg_group(w, pixels):
    entry = {'input': w.add('vgg/pixels', pixels), 'conventions': {
        'caffe': {'mean': nets.CAFFE_MEAN, 'std': None, 'note': 'pixels 0..255 minus mean'},
        'torchvision': {'mean': nets.IMAGENET_MEAN, 'std': nets.IMAGENET_STD, 'note': '(pixels/255 − mean)/std'},
    }, 'archs': {}}
    for arch in ('vgg16', 'vgg19'):
        weights = nets.vgg_weights(arch)
        rules = nets.vgg_weight_rule(arch)
        for r in rules:
            v = weights[r['name']].reshape(-1)
            r['first'] = [float(a) for a in v[:4]]
            r['sum'] = float(v.sum())
        relus = [n for kind, _, n, _, _ in nets.vgg_layout(arch) if kind == 'relu']
        a = {'layout': [{'kind': k, 'index': i, 'name': n} for k, i, n, _, _ in nets.vgg_layout(arch)],
             'weights': rules, 'features': {}, 'normalized': {}, 'fp32Drift': {}}
        for conv in ('caffe', 'torchvision'):
            res = {}
            for dtype in (torch.float64, torch.float32):
                p = {k: T(v, dtype=dtype) for k, v in weights.items()}
                xin = nets.vgg_preprocess(T(pixels, dtype=dtype), conv)
                res[dtype] = (xin.numpy(), {k: v.numpy() for k, v in nets.vgg_features(p, arch, xin, relus).items()})
            xin64, f64 = res[torch.float64]
            _, f32_ = res[torch.float32]
            a['normalized'][conv] = w.add(f'{arch}/{conv}/input', xin64)
            a['features'][conv] = {n: w.add(f'{arch}/{conv}/{n}', f64[n]) for n in relus}
            a['fp32Drift'][conv] = {n: drift(f32_[n], f64[n]) for n in relus}
        entry['archs'][arch] = a
    return entry


# ------------------------------------------------------------------ one training step


STYLE_LAYERS = ['relu1_2', 'relu2_2', 'relu3_4']
CONTENT_LAYER = 'relu2_2'


def train_group(w, tn_params):
    rng = np.random.default_rng(1300)
    content = f32(rng.uniform(0, 255, (2, 3, 16, 16)))
    style = f32(rng.uniform(0, 255, (1, 3, 16, 16)))
    vgg_w = nets.vgg_weights('vgg19')
    cw, sw, tvw, lr, steps = 1.0, 0.1, 1.0, 1e-3, 3

    def gram(f):
        n, c, h, wd = f.shape
        m = f.reshape(n, c, h * wd)
        return torch.bmm(m, m.transpose(1, 2)) / (c * h * wd)

    def tv(x):
        dx = x[:, :, :, 1:] - x[:, :, :, :-1]
        dy = x[:, :, 1:, :] - x[:, :, :-1, :]
        return dx.pow(2).mean() + dy.pow(2).mean()

    runs = {}
    for dtype in (torch.float64, torch.float32):
        vp = {k: T(v, dtype=dtype) for k, v in vgg_w.items()}
        vgg = lambda pix, want: nets.vgg_features(vp, 'vgg19', nets.vgg_preprocess(pix, 'caffe'), want)  # noqa: E731
        with torch.no_grad():
            target_c = vgg(T(content, dtype=dtype), [CONTENT_LAYER])[CONTENT_LAYER]
            sf = vgg(T(style, dtype=dtype), STYLE_LAYERS)
            target_s = {k: gram(v) for k, v in sf.items()}
        params = {k: T(v, grad=True, dtype=dtype) for k, v in tn_params.items()}
        opt = torch.optim.Adam(list(params.values()), lr=lr, betas=(0.9, 0.999), eps=1e-8)
        losses, after, grads1 = [], {}, None
        for step in range(1, steps + 1):
            opt.zero_grad()
            y = nets.transform_net(params, T(content, dtype=dtype))
            f = vgg(y, STYLE_LAYERS + [CONTENT_LAYER])
            c = F.mse_loss(f[CONTENT_LAYER], target_c)
            s = sum(F.mse_loss(gram(f[l]), target_s[l].expand(2, -1, -1)) for l in STYLE_LAYERS)
            t = tv(y)
            total = cw * c + sw * s + tvw * t
            total.backward()
            losses.append({'content': c.item(), 'style': s.item(), 'tv': t.item(), 'total': total.item()})
            if step == 1:
                grads1 = {k: p.grad.numpy().copy() for k, p in params.items()}
            opt.step()
            if step in (1, 3):
                after[step] = {k: p.detach().numpy().copy() for k, p in params.items()}
        runs[dtype] = (losses, after, grads1)
    losses, after, grads1 = runs[torch.float64]
    losses32, after32, grads32 = runs[torch.float32]

    # Adam's first step moves every weight by lr·g/(|g| + eps) ≈ ±lr: wherever the true gradient is ~0
    # (biases of convs followed by instance norm, which removes any per-channel constant) float32 noise
    # decides the sign. List where float32 PyTorch itself disagrees with float64 by more than lr/10.
    noisy = {}
    for k in tn_params:
        d = np.abs((after32[1][k] - tn_params[k]) - (after[1][k] - tn_params[k]))
        bad = int((d > lr / 10).sum())
        if bad:
            noisy[k] = {'elements': int(d.size), 'differ': bad, 'maxAbsGrad64': float(np.abs(grads1[k]).max())}
    gscale = max(float(np.abs(v).max()) for v in grads1.values())
    return {
        'content': w.add('train/content', content),
        'style': w.add('train/style', style),
        'setup': {'vgg': 'vgg19 (weights of the vgg group)', 'convention': 'caffe', 'contentLayer': CONTENT_LAYER,
                  'styleLayers': STYLE_LAYERS, 'contentWeight': cw, 'styleWeight': sw, 'tvWeight': tvw,
                  'gram': 'F Fᵀ/(C·H·W)', 'styleLoss': 'Σ_l mean((G − Gs)²) over [N, C, C]',
                  'contentLoss': 'mean((F − Fc)²)', 'tvLoss': 'mean(dx²) + mean(dy²)',
                  'adam': {'lr': lr, 'betas': [0.9, 0.999], 'eps': 1e-8},
                  'initialWeights': 'the transformNet group params (width 0.25)', 'batch': 'the same content batch every step'},
        'losses': losses,
        'grads1': {k: w.add(f'train/step1/grad/{k}', v) for k, v in grads1.items()},
        'after': {str(s): {k: w.add(f'train/step{s}/param/{k}', v) for k, v in after[s].items()} for s in (1, 3)},
        'fp32Drift': {
            'losses': [{k: abs(l32[k] - l64[k]) / abs(l64[k]) for k in l64} for l32, l64 in zip(losses32, losses)],
            'gradsNetScale': max(float(np.abs(grads32[k] - grads1[k]).max()) for k in grads1) / gscale,
            'adamStep1Disagreements': noisy,
            'paramsAfter3MaxAbs': max(float(np.abs(after32[3][k] - after[3][k]).max()) for k in tn_params),
        },
    }


def main():
    os.makedirs(OUT, exist_ok=True)
    index = {'generatedBy': 'scripts/golden/generate.py', 'torch': torch.__version__, 'numpy': np.__version__,
             'note': 'inputs are float32 values; references computed by PyTorch in float64 and stored as float32'}
    groups = {}

    w = Writer()
    index['ops'] = {'file': 'ops.safetensors', 'cases': op_cases(w)}
    groups['ops.safetensors'] = w

    w = Writer()
    index['adam'] = {'file': 'adam.safetensors', 'cases': adam_cases(w)}
    groups['adam.safetensors'] = w

    rng = np.random.default_rng(1234)
    tn_params = nets.transform_net_init(rng)
    x = f32(rng.uniform(0, 255, (1, 3, 16, 16)))
    w = Writer()
    index['transformNet'] = {'file': 'transform_net.safetensors', **transform_net_group(w, tn_params, x)}
    groups['transform_net.safetensors'] = w

    w = Writer()
    pixels = f32(np.random.default_rng(1240).uniform(0, 255, (1, 3, 16, 16)))
    index['vgg'] = {'file': 'vgg.safetensors', **vgg_group(w, pixels)}
    groups['vgg.safetensors'] = w

    w = Writer()
    index['trainStep'] = {'file': 'train_step.safetensors', **train_group(w, tn_params)}
    groups['train_step.safetensors'] = w

    total = 0
    for name, wr in groups.items():
        wr.write(os.path.join(OUT, name))
        total += os.path.getsize(os.path.join(OUT, name))
        print(f'{name}: {len(wr.tensors)} tensors, {wr.nbytes() / 1024:.0f} KiB')
    with open(os.path.join(OUT, 'index.json'), 'w') as f:
        json.dump(index, f, indent=1)
        f.write('\n')
    total += os.path.getsize(os.path.join(OUT, 'index.json'))
    print(f'total {total / 1024:.0f} KiB in {os.path.normpath(OUT)}')


if __name__ == '__main__':
    main()
