#!/usr/bin/python3
"""Fixtures of other implementations' files, written by PyTorch 1.13, for test/cli-import-pytorch.test.ts and
test/pytorch-checkpoint.test.ts: what `import FILE.pth` and `import FILE.onnx` read.

Regenerate (development only; tests read the committed files):  /usr/bin/python3 scripts/golden/pytorch_files.py
Writes test/fixtures/pytorch/ (about 0.8 MB):

- tnet.pth            pytorch/examples TransformerNet layout, width 0.125, zip format (torch.save default);
                      one weight is a non-contiguous view and two biases share one storage, to check strides
                      and storage offsets
- tnet-legacy.pth     the same weights in the legacy format (_use_new_zipfile_serialization=False), with the
                      InstanceNorm running_mean/running_var buffers that 2017-era files carry
- tnet-opset9.onnx    torch.onnx.export of the same net at opset 9 (Upsample), dynamic height and width
- tnet-opset13.onnx   the same at opset 13 (Resize)
- tnet-wrong-shape.pth  conv1 only, its bias of the wrong length (a damaged file)
- vgg16.pth           torchvision vgg16 layout with features 0, 2, 5 (conv1_1, conv1_2, conv2_1) and a small
                      stand-in classifier (which import ignores), zip format, random weights
- vgg16-legacy.pth    features 0 and 2 only, legacy format
- reference.safetensors  the photo crop [1, 3, 24, 32] (kodim23, pixels 0..255), the net's output on it in
                      float64 (stored float32), and features.0.weight of vgg16.pth

The net is pytorch/examples' (linear output: pixels 0..255 with no tanh). Its last conv is scaled (×100,
bias +127.5) so that random weights give outputs across 0..255 rather than all near 0.
"""
import collections
import copy
import json
import os
import sys

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fixtures import Writer  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, '..', '..', 'test', 'fixtures', 'pytorch')
PHOTO = os.path.join(HERE, '..', '..', '..', 'shared', 'assets', 'photos', 'kodak24', 'kodim23.png')
torch.set_num_threads(1)


class Conv(nn.Module):
    """Reflection pad by k//2, then the conv; optional nearest ×2 upsampling first (pytorch/examples' names:
    the conv is `conv2d`)."""

    def __init__(self, cin, cout, k, stride=1, upsample=None):
        super().__init__()
        self.upsample = upsample
        self.reflection_pad = nn.ReflectionPad2d(k // 2)
        self.conv2d = nn.Conv2d(cin, cout, k, stride)

    def forward(self, x):
        if self.upsample:
            x = F.interpolate(x, mode='nearest', scale_factor=self.upsample)
        return self.conv2d(self.reflection_pad(x))


class Residual(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = Conv(c, c, 3)
        self.in1 = nn.InstanceNorm2d(c, affine=True)
        self.conv2 = Conv(c, c, 3)
        self.in2 = nn.InstanceNorm2d(c, affine=True)

    def forward(self, x):
        return x + self.in2(self.conv2(F.relu(self.in1(self.conv1(x)))))


class TransformerNet(nn.Module):
    """The layer list and parameter names of pytorch/examples' fast_neural_style TransformerNet, any width."""

    def __init__(self, width=1.0):
        super().__init__()
        c1, c2, c3 = (max(1, round(c * width)) for c in (32, 64, 128))
        self.conv1 = Conv(3, c1, 9)
        self.in1 = nn.InstanceNorm2d(c1, affine=True)
        self.conv2 = Conv(c1, c2, 3, 2)
        self.in2 = nn.InstanceNorm2d(c2, affine=True)
        self.conv3 = Conv(c2, c3, 3, 2)
        self.in3 = nn.InstanceNorm2d(c3, affine=True)
        self.res1, self.res2, self.res3, self.res4, self.res5 = (Residual(c3) for _ in range(5))
        self.deconv1 = Conv(c3, c2, 3, upsample=2)
        self.in4 = nn.InstanceNorm2d(c2, affine=True)
        self.deconv2 = Conv(c2, c1, 3, upsample=2)
        self.in5 = nn.InstanceNorm2d(c1, affine=True)
        self.deconv3 = Conv(c1, 3, 9)

    def forward(self, x):
        y = F.relu(self.in1(self.conv1(x)))
        y = F.relu(self.in2(self.conv2(y)))
        y = F.relu(self.in3(self.conv3(y)))
        y = self.res5(self.res4(self.res3(self.res2(self.res1(y)))))
        y = F.relu(self.in4(self.deconv1(y)))
        y = F.relu(self.in5(self.deconv2(y)))
        return self.deconv3(y)


def random_net(width, seed):
    """PyTorch's default init, random IN affine parameters, the last conv scaled to reach 0..255."""
    torch.manual_seed(seed)
    net = TransformerNet(width)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.InstanceNorm2d):
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.5, 0.5)
        net.deconv3.conv2d.weight.mul_(100)
        net.deconv3.conv2d.bias.add_(127.5)
    return net.eval()


def photo_crop(h, w, top=150, left=300):
    img = np.asarray(Image.open(PHOTO).convert('RGB'), dtype=np.float32)
    return torch.from_numpy(img[top:top + h, left:left + w].transpose(2, 0, 1).copy()).unsqueeze(0)


def output64(net, x):
    """The net in float64 from its float32 weights (the reference), stored as float32."""
    n64 = copy.deepcopy(net).double()
    with torch.no_grad():
        return n64(x.double()).float()


def awkward_state_dict(net):
    """The state dict with deconv1's weight stored transposed (a non-contiguous view) and conv1's and conv2's
    biases as two slices of one storage: what torch.save keeps as strides and storage offsets."""
    sd = collections.OrderedDict((k, v.detach().clone()) for k, v in net.state_dict().items())
    w = sd['deconv1.conv2d.weight']
    sd['deconv1.conv2d.weight'] = w.permute(1, 0, 2, 3).contiguous().permute(1, 0, 2, 3)
    assert not sd['deconv1.conv2d.weight'].is_contiguous()
    b1, b2 = sd['conv1.conv2d.bias'], sd['conv2.conv2d.bias']
    shared = torch.cat([b2, b1])
    sd['conv1.conv2d.bias'] = shared[len(b2):]
    sd['conv2.conv2d.bias'] = shared[:len(b2)]
    return sd


def legacy_state_dict(net):
    """The state dict with the deprecated InstanceNorm buffers of 2017-era pytorch/examples files."""
    sd = collections.OrderedDict()
    for k, v in net.state_dict().items():
        sd[k] = v.detach().clone()
        if k.endswith('.bias') and not k.endswith('conv2d.bias'):
            prefix = k[:-len('bias')]
            sd[prefix + 'running_mean'] = torch.zeros_like(v)
            sd[prefix + 'running_var'] = torch.ones_like(v)
    return sd


def export_onnx(net, path, opset, h=24, w=32):
    torch.onnx.export(net, torch.zeros(1, 3, h, w), path, opset_version=opset, input_names=['input1'], output_names=['output1'],
                      dynamic_axes={'input1': {0: 'batch', 2: 'height', 3: 'width'}, 'output1': {0: 'batch', 2: 'height', 3: 'width'}})


VGG16_CONVS = [(0, 3, 64), (2, 64, 64), (5, 64, 128)]


def vgg_state_dict(indices, seed):
    """torchvision vgg16 names (features.N.weight/bias) for the given convs, He-normal weights as torchvision
    initialises them, and a small stand-in classifier."""
    g = torch.Generator().manual_seed(seed)
    sd = collections.OrderedDict()
    for i, cin, cout in VGG16_CONVS:
        if i not in indices:
            continue
        sd[f'features.{i}.weight'] = torch.randn(cout, cin, 3, 3, generator=g) * np.sqrt(2 / (cout * 9))
        sd[f'features.{i}.bias'] = torch.randn(cout, generator=g) * 0.1
    sd['classifier.0.weight'] = torch.randn(4, 8, generator=g)
    sd['classifier.0.bias'] = torch.randn(4, generator=g)
    return sd


def main():
    os.makedirs(OUT, exist_ok=True)
    net = random_net(0.125, seed=7)
    x = photo_crop(24, 32)
    y = output64(net, x)
    torch.save(awkward_state_dict(net), os.path.join(OUT, 'tnet.pth'))
    torch.save(legacy_state_dict(net), os.path.join(OUT, 'tnet-legacy.pth'), _use_new_zipfile_serialization=False)
    export_onnx(net, os.path.join(OUT, 'tnet-opset9.onnx'), 9)
    export_onnx(net, os.path.join(OUT, 'tnet-opset13.onnx'), 13)
    # A damaged file: conv1's bias has 5 values where the width-0.125 net has 4 channels.
    torch.save(collections.OrderedDict([('conv1.conv2d.weight', net.conv1.conv2d.weight.detach()), ('conv1.conv2d.bias', torch.zeros(5))]),
               os.path.join(OUT, 'tnet-wrong-shape.pth'))
    vgg = vgg_state_dict({0, 2, 5}, seed=11)
    torch.save(vgg, os.path.join(OUT, 'vgg16.pth'))
    torch.save(collections.OrderedDict((k, v) for k, v in vgg.items() if not k.startswith('features.5')), os.path.join(OUT, 'vgg16-legacy.pth'),
               _use_new_zipfile_serialization=False)
    w = Writer()
    w.add('photo', x.numpy())
    w.add('output', y.numpy())
    w.add('features.0.weight', vgg['features.0.weight'].numpy())
    w.write(os.path.join(OUT, 'reference.safetensors'))
    # float32 PyTorch against the float64 reference: the noise a float32 implementation must be allowed.
    with torch.no_grad():
        drift = float((net(x) - y).abs().max())
    with open(os.path.join(OUT, 'index.json'), 'w') as f:
        json.dump({'width': 0.125, 'photo': 'kodim23.png rows 150..173, columns 300..331', 'fp32Drift': drift, 'torch': torch.__version__}, f, indent=2)
        f.write('\n')
    for name in sorted(os.listdir(OUT)):
        print(f'{name}: {os.path.getsize(os.path.join(OUT, name))} bytes')
    print(f'output range {float(y.min()):.1f}..{float(y.max()):.1f}, float32 drift {drift:.2e}')


if __name__ == '__main__':
    main()
