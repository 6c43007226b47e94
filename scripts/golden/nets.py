"""TransformNet (pytorch/examples fast_neural_style TransformerNet + our 150·tanh + 127.5 output) and the
VGG16/VGG19 feature stacks, written functionally over a dict of parameters so that one set of weights can
run in float64 (the reference) and float32 (to measure how far plain float32 drifts)."""
import numpy as np
import torch
import torch.nn.functional as F

from fixtures import cpu_random, f32

# ------------------------------------------------------------------ TransformNet


def transform_net_layout(width=0.25):
    """(prefix, in, out, kernel, stride, upsample) of every conv, in pytorch/examples' names, and the IN layers."""
    c1, c2, c3 = round(32 * width), round(64 * width), round(128 * width)
    convs = [('conv1', 3, c1, 9, 1, 1), ('conv2', c1, c2, 3, 2, 1), ('conv3', c2, c3, 3, 2, 1)]
    norms = [('in1', c1), ('in2', c2), ('in3', c3)]
    for r in range(1, 6):
        convs += [(f'res{r}.conv1', c3, c3, 3, 1, 1), (f'res{r}.conv2', c3, c3, 3, 1, 1)]
        norms += [(f'res{r}.in1', c3), (f'res{r}.in2', c3)]
    convs += [('deconv1', c3, c2, 3, 1, 2), ('deconv2', c2, c1, 3, 1, 2), ('deconv3', c1, 3, 9, 1, 1)]
    norms += [('in4', c2), ('in5', c1)]
    return convs, norms


def transform_net_init(rng, width=0.25):
    """Conv weights and biases as PyTorch's default init (U(±1/sqrt(fan_in))); IN gamma U(0.5, 1.5) and
    beta U(−0.5, 0.5) rather than 1 / 0 so that the affine part is exercised. float32 values."""
    convs, norms = transform_net_layout(width)
    p = {}
    for name, cin, cout, k, _, _ in convs:
        b = 1 / np.sqrt(cin * k * k)
        p[f'{name}.conv2d.weight'] = f32(rng.uniform(-b, b, (cout, cin, k, k)))
        p[f'{name}.conv2d.bias'] = f32(rng.uniform(-b, b, (cout,)))
    for name, c in norms:
        p[f'{name}.weight'] = f32(rng.uniform(0.5, 1.5, (c,)))
        p[f'{name}.bias'] = f32(rng.uniform(-0.5, 0.5, (c,)))
    return p


def conv_layer(p, name, x, stride, upsample=1):
    w = p[f'{name}.conv2d.weight']
    if upsample > 1:
        x = F.interpolate(x, scale_factor=upsample, mode='nearest')
    pad = w.shape[-1] // 2
    x = F.pad(x, (pad, pad, pad, pad), mode='reflect')
    return F.conv2d(x, w, p[f'{name}.conv2d.bias'], stride=stride)


def inorm(p, name, x):
    return F.instance_norm(x, weight=p[f'{name}.weight'], bias=p[f'{name}.bias'], eps=1e-5)


def transform_net(p, x):
    """x: pixels 0..255 → pixels ≈ 0..255 (150·tanh + 127.5)."""
    y = F.relu(inorm(p, 'in1', conv_layer(p, 'conv1', x, 1)))
    y = F.relu(inorm(p, 'in2', conv_layer(p, 'conv2', y, 2)))
    y = F.relu(inorm(p, 'in3', conv_layer(p, 'conv3', y, 2)))
    for r in range(1, 6):
        h = F.relu(inorm(p, f'res{r}.in1', conv_layer(p, f'res{r}.conv1', y, 1)))
        h = inorm(p, f'res{r}.in2', conv_layer(p, f'res{r}.conv2', h, 1))
        y = y + h
    y = F.relu(inorm(p, 'in4', conv_layer(p, 'deconv1', y, 1, upsample=2)))
    y = F.relu(inorm(p, 'in5', conv_layer(p, 'deconv2', y, 1, upsample=2)))
    y = conv_layer(p, 'deconv3', y, 1)
    return 150 * torch.tanh(y) + 127.5


# ------------------------------------------------------------------ VGG

# torchvision cfg 'D' (vgg16) / 'E' (vgg19), truncated after block 3 (relu3_3 / relu3_4).
VGG_BLOCKS = {'vgg16': [[64, 64], [128, 128], [256, 256, 256]], 'vgg19': [[64, 64], [128, 128], [256, 256, 256, 256]]}

CAFFE_MEAN = [123.68, 116.779, 103.939]
IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


def vgg_layout(arch):
    """[(kind, features index, name)] in torchvision's features order: conv, relu, ..., pool."""
    layers = []
    i = 0
    cin = 3
    for b, block in enumerate(VGG_BLOCKS[arch], start=1):
        for j, cout in enumerate(block, start=1):
            layers.append(('conv', i, f'conv{b}_{j}', cin, cout))
            layers.append(('relu', i + 1, f'relu{b}_{j}', cout, cout))
            i += 2
            cin = cout
        if b < len(VGG_BLOCKS[arch]):
            layers.append(('pool', i, f'pool{b}', cin, cin))
            i += 1
    return layers


def vgg_weight_rule(arch):
    """Random He-uniform weights from the project's mulberry32 (so the test regenerates them with
    cpuRandom instead of reading 7–9 MB): weight of features.i = cpuRandom(shape, 1000 + i, −b, b) with
    b = sqrt(6 / fan_in) (variance 2/fan_in), bias = cpuRandom([C], 2000 + i, −0.1, 0.1). Shared layers
    of VGG16 and VGG19 (same index, same shape) get the same values."""
    rules = []
    for kind, i, name, cin, cout in vgg_layout(arch):
        if kind != 'conv':
            continue
        b = float(np.sqrt(6.0 / (cin * 9)))
        rules.append({'name': f'features.{i}.weight', 'layer': name, 'shape': [cout, cin, 3, 3], 'seed': 1000 + i, 'lo': -b, 'hi': b})
        rules.append({'name': f'features.{i}.bias', 'layer': name, 'shape': [cout], 'seed': 2000 + i, 'lo': -0.1, 'hi': 0.1})
    return rules


def vgg_weights(arch):
    return {r['name']: cpu_random(r['shape'], r['seed'], r['lo'], r['hi']) for r in vgg_weight_rule(arch)}


def vgg_preprocess(pixels, convention):
    mean = torch.tensor(CAFFE_MEAN if convention == 'caffe' else IMAGENET_MEAN, dtype=pixels.dtype).view(1, 3, 1, 1)
    if convention == 'caffe':
        return pixels - mean
    std = torch.tensor(IMAGENET_STD, dtype=pixels.dtype).view(1, 3, 1, 1)
    return (pixels / 255 - mean) / std


def vgg_features(p, arch, x, want):
    """Runs the (already normalised) input through the stack; returns {relu name: activation} for `want`."""
    out = {}
    last = max(k for k, (_, _, n, _, _) in enumerate(vgg_layout(arch)) if n in want)
    for k, (kind, i, name, _, _) in enumerate(vgg_layout(arch)):
        if k > last:
            break
        if kind == 'conv':
            x = F.conv2d(x, p[f'features.{i}.weight'], p[f'features.{i}.bias'], padding=1)
        elif kind == 'relu':
            x = F.relu(x)
            if name in want:
                out[name] = x
        else:
            x = F.max_pool2d(x, 2, 2)
    return out
