"""The training recipe of ../shared/assets/README.md in PyTorch, as an independent reference for `train`.

Johnson transform net (nets.py), the committed VGG19 loss network (Caffe input), content relu2_2, style
relu1_2/relu2_2/relu3_4 (Gram / (C·H·W)), TV mean(dx²) + mean(dy²), Adam, batch of 128 px crops of the
BSDS500 train+test photos. Writes a model file in our format (float32), so `eval`, `stylize` and the droplet
measure read it like one of ours. Used to tell apart what the recipe does from what our engine does: same
recipe, same options, independent code.

    /usr/bin/python3 scripts/golden/train_reference.py --steps 300 --out /tmp/ref.safetensors \
        [--init models/starry_night.safetensors --warmup 100] [--crop-scale random|shorter-side]

Needs python3-torch and python3-pil (Debian). ~2 s per step on 2 idle cores.
"""
import argparse
import glob
import json
import math
import os
import struct
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
import nets  # noqa: E402

ROOT = os.path.join(os.path.dirname(__file__), '..', '..')
SHARED = os.path.join(ROOT, '..', 'shared', 'assets')
STYLE_LAYERS = ['relu1_2', 'relu2_2', 'relu3_4']
CONTENT_LAYER = 'relu2_2'


def read_safetensors(path):
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    meta = header.pop('__metadata__', {})
    dtypes = {'F32': np.float32, 'F16': np.float16}
    out = {}
    for name, h in header.items():
        a, b = h['data_offsets']
        out[name] = np.frombuffer(raw[8 + n + a:8 + n + b], dtype=dtypes[h['dtype']]).reshape(h['shape']).astype(np.float32)
    return out, meta


def write_model(path, params, meta):
    header, blobs, offset = {'__metadata__': meta}, [], 0
    for name, t in params.items():
        a = np.ascontiguousarray(t.detach().numpy().astype(np.float32))
        header[name] = {'dtype': 'F32', 'shape': list(a.shape), 'data_offsets': [offset, offset + a.nbytes]}
        blobs.append(a.tobytes())
        offset += a.nbytes
    raw = json.dumps(header, separators=(',', ':')).encode()
    raw += b' ' * (-len(raw) % 8)
    tmp = path + '.tmp'
    with open(tmp, 'wb') as f:
        f.write(struct.pack('<Q', len(raw)) + raw + b''.join(blobs))
    os.replace(tmp, path)


def gram(f):
    n, c, h, w = f.shape
    m = f.reshape(n, c, h * w)
    return torch.bmm(m, m.transpose(1, 2)) / (c * h * w)


def tv_loss(x):
    return (x[:, :, :, 1:] - x[:, :, :, :-1]).pow(2).mean() + (x[:, :, 1:, :] - x[:, :, :-1, :]).pow(2).mean()


def sample(rng, photos, size, crop_scale, resample=Image.BILINEAR):
    """One training crop: a photo, rescaled (shorter side = size, or log-uniform up to its own size), a
    size×size window, maybe mirrored. Pixels 0..255, [3, size, size]."""
    img = Image.open(photos[rng.integers(len(photos))]).convert('RGB')
    w, h = img.size
    lo = size / min(w, h)
    s = lo if crop_scale == 'shorter-side' else math.exp(rng.uniform(math.log(lo), math.log(max(lo, 1.0))))
    nw, nh = max(size, round(w * s)), max(size, round(h * s))
    img = img.resize((nw, nh), resample, reducing_gap=None)
    x0, y0 = rng.integers(nw - size + 1), rng.integers(nh - size + 1)
    a = np.asarray(img.crop((x0, y0, x0 + size, y0 + size)), dtype=np.float32)
    if rng.random() < 0.5:
        a = a[:, ::-1]
    return a.transpose(2, 0, 1).copy()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--style', default=os.path.join(SHARED, 'styles/jcjohnson-fast-neural-style/starry_night.jpg'))
    ap.add_argument('--style-name', default='starry_night')
    ap.add_argument('--vgg', default=os.path.join(ROOT, 'models/loss-network/vgg19_conv1_1-conv3_4.safetensors'))
    ap.add_argument('--steps', type=int, default=1000)
    ap.add_argument('--size', type=int, default=128)
    ap.add_argument('--batch', type=int, default=4)
    ap.add_argument('--lr', type=float, default=1e-3)
    ap.add_argument('--warmup', type=int, default=0)
    ap.add_argument('--style-size', type=int, default=256)
    ap.add_argument('--style-weight', type=float, default=0.1)
    ap.add_argument('--content-weight', type=float, default=1.0)
    ap.add_argument('--tv-weight', type=float, default=1.0)
    ap.add_argument('--crop-scale', choices=['random', 'shorter-side'], default='random')
    ap.add_argument('--resize', choices=['bilinear', 'box', 'lanczos'], default='bilinear',
                    help="PIL's filter for the photos' rescale and the style image (box: our data loader before libvips)")
    ap.add_argument('--batches', help='a folder of batchNNNNN.rgb (uint8 [batch, size, size, 3], one per step) and '
                    'style.rgb + style.json (the style image at its style size), e.g. the batches `train` itself fed '
                    'its net: the run then differs from ours only in the engine')
    ap.add_argument('--init', help='a model file of ours to start from (else PyTorch default init)')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--save-every', type=int, default=100)
    ap.add_argument('--out', required=True)
    ap.add_argument('--state', help='a file that holds the full run state (weights, Adam moments, step), written at '
                    'each save; when it exists the run continues from it, so a long run spans sessions')
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(int(os.environ.get('THREADS', '2')))
    rng = np.random.default_rng(args.seed)

    photos = sorted(glob.glob(os.path.join(SHARED, 'photos/bsds500/train/*.jpg')) + glob.glob(os.path.join(SHARED, 'photos/bsds500/test/*.jpg')))
    vgg_w, _ = read_safetensors(args.vgg)
    vp = {k: torch.from_numpy(v) for k, v in vgg_w.items()}

    def vgg(pix, want):
        return nets.vgg_features(vp, 'vgg19', nets.vgg_preprocess(pix, 'caffe'), want)

    resample = {'bilinear': Image.BILINEAR, 'box': Image.BOX, 'lanczos': Image.LANCZOS}[args.resize]
    if args.batches:
        dims = json.load(open(os.path.join(args.batches, 'style.json')))
        style = np.fromfile(os.path.join(args.batches, 'style.rgb'), dtype=np.uint8).reshape(dims['height'], dims['width'], 3)
    else:
        style = Image.open(args.style).convert('RGB')
        k = args.style_size / max(style.size)
        style = style.resize((round(style.size[0] * k), round(style.size[1] * k)), resample)
    style_t = torch.from_numpy(np.asarray(style, dtype=np.float32).transpose(2, 0, 1).copy())[None]
    with torch.no_grad():
        target_s = {k: gram(v) for k, v in vgg(style_t, STYLE_LAYERS).items()}

    if args.init:
        init, meta = read_safetensors(args.init)
        params = {k: torch.from_numpy(v.copy()).requires_grad_(True) for k, v in init.items()}
        meta = {k: meta[k] for k in ('format', 'version', 'architecture')}
    else:
        rs = np.random.default_rng(args.seed)
        params = {k: torch.from_numpy(v.astype(np.float32)).requires_grad_(True) for k, v in nets.transform_net_init(rs, 1.0).items()}
        for name, _c in nets.transform_net_layout(1.0)[1]:
            params[f'{name}.weight'].data.fill_(1.0)
            params[f'{name}.bias'].data.fill_(0.0)
        ref_meta = read_safetensors(os.path.join(ROOT, 'models/starry_night.safetensors'))[1]
        meta = {k: ref_meta[k] for k in ('format', 'version', 'architecture')}
    meta['style'] = args.style_name
    meta['reference'] = json.dumps({'trainer': 'scripts/golden/train_reference.py (PyTorch ' + torch.__version__ + ')', **vars(args)})
    opt = torch.optim.Adam(list(params.values()), lr=args.lr)

    first = 1
    if args.state and os.path.exists(args.state):
        saved = torch.load(args.state)
        for k, v in saved['params'].items():
            params[k].data.copy_(v)
        opt.load_state_dict(saved['opt'])
        rng.bit_generator.state = saved['rng']
        first = saved['step'] + 1
        print(f'resumed from {args.state} at step {saved["step"]}', flush=True)
    start = time.time()
    for step in range(first, args.steps + 1):
        for g in opt.param_groups:
            g['lr'] = args.lr * min(1.0, step / args.warmup) if args.warmup else args.lr
        if args.batches:
            raw = np.fromfile(os.path.join(args.batches, f'batch{step:05d}.rgb'), dtype=np.uint8)
            x = torch.from_numpy(raw.reshape(args.batch, args.size, args.size, 3).transpose(0, 3, 1, 2).astype(np.float32))
        else:
            x = torch.from_numpy(np.stack([sample(rng, photos, args.size, args.crop_scale, resample) for _ in range(args.batch)]))
        with torch.no_grad():
            target_c = vgg(x, [CONTENT_LAYER])[CONTENT_LAYER]
        opt.zero_grad()
        y = nets.transform_net(params, x)
        f = vgg(y, STYLE_LAYERS + [CONTENT_LAYER])
        c = F.mse_loss(f[CONTENT_LAYER], target_c)
        s = sum(F.mse_loss(gram(f[l]), target_s[l].expand(args.batch, -1, -1)) for l in STYLE_LAYERS)
        t = tv_loss(y)
        total = args.content_weight * c + args.style_weight * s + args.tv_weight * t
        total.backward()
        opt.step()
        print(json.dumps({'step': step, 'content': c.item(), 'style': s.item(), 'tv': t.item(), 'total': total.item(),
                          'seconds': round(time.time() - start, 1)}), flush=True)
        if step % args.save_every == 0 or step == args.steps:
            meta['step'] = str(step)
            write_model(args.out.replace('.safetensors', f'.step{step}.safetensors') if step != args.steps else args.out, params, meta)
            if args.state:
                torch.save({'params': {k: v.detach() for k, v in params.items()}, 'opt': opt.state_dict(),
                            'rng': rng.bit_generator.state, 'step': step}, args.state + '.tmp')
                os.replace(args.state + '.tmp', args.state)


if __name__ == '__main__':
    main()
