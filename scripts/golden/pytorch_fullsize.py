#!/usr/bin/python3
"""Full-size files for the one-off check of issue 22 (not committed: ~600 MB; scripts/golden/fullsize-formats.sh
runs it): a width-1 pytorch/examples TransformerNet with random weights as .pth (zip and legacy) and ONNX
opset 9, PyTorch's stylisation of a real photo with it, and a torchvision-layout VGG16 state dict (features
and classifier, random weights) as torchvision's vgg16-397923af.pth is laid out.

Usage: /usr/bin/python3 scripts/golden/pytorch_fullsize.py OUT_DIR PHOTO.png
"""
import os
import sys

import numpy as np
import torch
from PIL import Image

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pytorch_files import export_onnx, output64, random_net  # noqa: E402


def main(out, photo):
    os.makedirs(out, exist_ok=True)
    net = random_net(1.0, seed=22)
    torch.save(net.state_dict(), os.path.join(out, 'net.pth'))
    torch.save(net.state_dict(), os.path.join(out, 'net-legacy.pth'), _use_new_zipfile_serialization=False)
    export_onnx(net, os.path.join(out, 'net-opset9.onnx'), 9)
    img = np.asarray(Image.open(photo).convert('RGB'), dtype=np.float32)
    x = torch.from_numpy(img.transpose(2, 0, 1).copy()).unsqueeze(0)
    y = output64(net, x)[0].numpy().transpose(1, 2, 0)
    Image.fromarray(np.clip(np.round(y), 0, 255).astype(np.uint8)).save(os.path.join(out, 'pytorch.png'))
    print(f'PyTorch output range {y.min():.1f}..{y.max():.1f} on {img.shape[1]}x{img.shape[0]}')
    g = torch.Generator().manual_seed(16)
    sd = {}
    cfg = [64, 64, 'M', 128, 128, 'M', 256, 256, 256, 'M', 512, 512, 512, 'M', 512, 512, 512, 'M']
    i, cin = 0, 3
    for v in cfg:
        if v == 'M':
            i += 1
            continue
        sd[f'features.{i}.weight'] = torch.randn(v, cin, 3, 3, generator=g) * np.sqrt(2 / (v * 9))
        sd[f'features.{i}.bias'] = torch.zeros(v)
        i += 2
        cin = v
    for j, (fin, fout) in {0: (25088, 4096), 3: (4096, 4096), 6: (4096, 1000)}.items():
        sd[f'classifier.{j}.weight'] = torch.randn(fout, fin, generator=g) * 0.01
        sd[f'classifier.{j}.bias'] = torch.zeros(fout)
    torch.save(sd, os.path.join(out, 'vgg16.pth'), _use_new_zipfile_serialization=False)
    torch.save(sd, os.path.join(out, 'vgg16-zip.pth'))


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
