"""One training step at the real size, in float64 PyTorch: what test/fullsize-train-step.test.ts compares our
losses and gradients with (the committed golden step is 16² at width 0.25; this one is the shipped recipe's
128² crops, batch 4, width 1, the committed VGG19, so the kernels and plans that only large shapes pick are
checked too). Too large to commit (~14 MB): written to a folder the test is pointed at.

    /usr/bin/python3 scripts/golden/fullsize_train_step.py /tmp/fullsize-step [--init models/starry_night.safetensors]
    FULLSIZE_TRAIN_STEP=/tmp/fullsize-step npx vitest run test/fullsize-train-step.test.ts
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import nets  # noqa: E402
import train_reference as ref  # noqa: E402
from fixtures import Writer  # noqa: E402


def adam_run(weights, batches, style, vgg_w, dtype):
    """Adam (lr 1e-3, PyTorch defaults) over the batches in `dtype`: the weights after, and each step's losses."""
    vp = {k: torch.from_numpy(v).to(dtype) for k, v in vgg_w.items()}

    def vgg(pix, want):
        return nets.vgg_features(vp, 'vgg19', nets.vgg_preprocess(pix, 'caffe'), want)

    params = {k: torch.from_numpy(v.copy()).to(dtype).requires_grad_(True) for k, v in weights.items()}
    opt = torch.optim.Adam(list(params.values()), lr=1e-3)
    with torch.no_grad():
        target_s = {k: ref.gram(v) for k, v in vgg(torch.from_numpy(style).to(dtype), ref.STYLE_LAYERS).items()}
    losses, grads1 = [], None
    for b in batches:
        x = torch.from_numpy(b).to(dtype)
        with torch.no_grad():
            target_c = vgg(x, [ref.CONTENT_LAYER])[ref.CONTENT_LAYER]
        opt.zero_grad()
        y = nets.transform_net(params, x)
        f = vgg(y, ref.STYLE_LAYERS + [ref.CONTENT_LAYER])
        c = F.mse_loss(f[ref.CONTENT_LAYER], target_c)
        s = sum(F.mse_loss(ref.gram(f[l]), target_s[l].expand(len(b), -1, -1)) for l in ref.STYLE_LAYERS)
        t = ref.tv_loss(y)
        total = c + 0.1 * s + t
        total.backward()
        if grads1 is None:
            grads1 = {k: p.grad.numpy().astype(np.float64) for k, p in params.items()}
        opt.step()
        losses.append({'content': c.item(), 'style': s.item(), 'tv': t.item(), 'total': total.item()})
        print(dtype, len(losses), losses[-1], flush=True)
    return {k: p.detach().numpy().astype(np.float64) for k, p in params.items()}, losses, grads1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('out_dir')
    ap.add_argument('--init', default=os.path.join(ref.ROOT, 'models/starry_night.safetensors'))
    ap.add_argument('--seed', type=int, default=7)
    ap.add_argument('--crop-scale', default='random')
    ap.add_argument('--steps', type=int, default=1,
                    help='more than 1: that many Adam steps (lr 1e-3) on as many batches, in float64 and float32')
    ap.add_argument('--random-init', action='store_true', help="PyTorch's default init instead of --init")
    args = ap.parse_args()
    os.makedirs(args.out_dir, exist_ok=True)
    rng = np.random.default_rng(args.seed)
    import glob
    photos = sorted(glob.glob(os.path.join(ref.SHARED, 'photos/bsds500/train/*.jpg')))
    batches = [np.stack([ref.sample(rng, photos, 128, args.crop_scale) for _ in range(4)]) for _ in range(args.steps)]
    batch = batches[0]

    from PIL import Image
    style = Image.open(os.path.join(ref.SHARED, 'styles/jcjohnson-fast-neural-style/starry_night.jpg')).convert('RGB')
    k = 256 / max(style.size)
    style = style.resize((round(style.size[0] * k), round(style.size[1] * k)), Image.BILINEAR)
    style = np.asarray(style, dtype=np.float32).transpose(2, 0, 1)[None].copy()

    if args.random_init:
        weights = {k: v.astype(np.float32) for k, v in nets.transform_net_init(np.random.default_rng(args.seed), 1.0).items()}
        for name, _c in nets.transform_net_layout(1.0)[1]:
            weights[f'{name}.weight'][:] = 1
            weights[f'{name}.bias'][:] = 0
    else:
        weights, _ = ref.read_safetensors(args.init)
    vgg_w, _ = ref.read_safetensors(os.path.join(ref.ROOT, 'models/loss-network/vgg19_conv1_1-conv3_4.safetensors'))
    d = torch.float64
    vp = {k: torch.from_numpy(v).to(d) for k, v in vgg_w.items()}

    def vgg(pix, want):
        return nets.vgg_features(vp, 'vgg19', nets.vgg_preprocess(pix, 'caffe'), want)

    params = {k: torch.from_numpy(v).to(d).requires_grad_(True) for k, v in weights.items()}
    x = torch.from_numpy(batch).to(d)
    with torch.no_grad():
        target_s = {k: ref.gram(v) for k, v in vgg(torch.from_numpy(style).to(d), ref.STYLE_LAYERS).items()}
        target_c = vgg(x, [ref.CONTENT_LAYER])[ref.CONTENT_LAYER]
    y = nets.transform_net(params, x)
    f = vgg(y, ref.STYLE_LAYERS + [ref.CONTENT_LAYER])
    c = F.mse_loss(f[ref.CONTENT_LAYER], target_c)
    s = sum(F.mse_loss(ref.gram(f[l]), target_s[l].expand(4, -1, -1)) for l in ref.STYLE_LAYERS)
    t = ref.tv_loss(y)
    total = c + 0.1 * s + t
    total.backward()

    w = Writer()
    runs = {}
    if args.steps > 1:
        for dtype in (torch.float64, torch.float32):
            runs[dtype] = adam_run(weights, batches, style, vgg_w, dtype)
        for i, b in enumerate(batches):
            w.add(f'batches/{i}', b)
        for k in weights:
            w.add(f'after64/{k}', runs[torch.float64][0][k])
            w.add(f'after32/{k}', runs[torch.float32][0][k])
            w.add(f'grad32/{k}', runs[torch.float32][2][k])
    w.add('batch', batch)
    w.add('style', style)
    w.add('output', y.detach().numpy())
    for k, p in params.items():
        w.add(f'weight/{k}', weights[k])
        w.add(f'grad/{k}', p.grad.numpy())
    w.write(os.path.join(args.out_dir, 'step.safetensors'))
    losses = {'content': c.item(), 'style': s.item(), 'tv': t.item(), 'total': total.item()}
    with open(os.path.join(args.out_dir, 'step.json'), 'w') as fh:
        json.dump({'losses': losses, 'weights': {'content': 1, 'style': 0.1, 'tv': 1}, 'init': 'random' if args.random_init else args.init,
                   'steps': args.steps, 'stepLosses64': runs[torch.float64][1] if runs else [],
                   'stepLosses32': runs[torch.float32][1] if runs else [],
                   'styleLayers': ref.STYLE_LAYERS, 'contentLayer': ref.CONTENT_LAYER}, fh, indent=1)
    print(json.dumps(losses))


if __name__ == '__main__':
    main()
