#!/usr/bin/env python3
"""PyTorch peer for bench/e2e.ts: times the same transform net (FP32) on the same weights and input.

Called by the benchmark, not by hand (but it works by hand too):

  python3 bench/peers/torch_transform_net.py --weights W.safetensors --input X.f32 --size 256 \
      --runs 5 --warmup 1 --output Y.f32 [--train --train-size 256 --train-batch 4] [--device cpu|cuda]

Weights: a safetensors file with pytorch/examples fast_neural_style names (read here by hand: an 8-byte
little-endian header length, a JSON header, then the bytes). Input: raw float32 NCHW [1,3,S,S] pixels 0..255.
Prints one JSON object on the last line of stdout: device, torch version, stylize and train timings in ms.
Exits with code 3 and a message when torch is missing, so the benchmark can skip it.
"""
import argparse
import json
import struct
import sys
import time

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # the benchmark reads this exit code as "skip"
    print(f"torch is not installed: {e}", file=sys.stderr)
    sys.exit(3)


def read_safetensors(path):
    with open(path, "rb") as f:
        blob = f.read()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + header_len].decode("utf-8"))
    base = 8 + header_len
    out = {}
    for name, meta in header.items():
        if name == "__metadata__":
            continue
        if meta["dtype"] != "F32":
            raise ValueError(f"{name}: dtype {meta['dtype']} (only F32 here)")
        begin, end = meta["data_offsets"]
        t = torch.frombuffer(bytearray(blob[base + begin : base + end]), dtype=torch.float32)
        out[name] = t.reshape(meta["shape"]).clone()
    return out


class ConvLayer(nn.Module):
    """Reflection pad floor(K/2), then conv with bias; optional nearest ×2 upsample first."""

    def __init__(self, cin, cout, k, stride=1, upsample=1):
        super().__init__()
        self.upsample = upsample
        self.pad = nn.ReflectionPad2d(k // 2)
        self.conv2d = nn.Conv2d(cin, cout, k, stride)

    def forward(self, x):
        if self.upsample > 1:
            x = F.interpolate(x, scale_factor=self.upsample, mode="nearest")
        return self.conv2d(self.pad(x))


class ResidualBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.conv1 = ConvLayer(c, c, 3)
        self.in1 = nn.InstanceNorm2d(c, affine=True, eps=1e-5)
        self.conv2 = ConvLayer(c, c, 3)
        self.in2 = nn.InstanceNorm2d(c, affine=True, eps=1e-5)

    def forward(self, x):
        y = F.relu(self.in1(self.conv1(x)))
        return x + self.in2(self.conv2(y))


class TransformNet(nn.Module):
    def __init__(self, c1=32, c2=64, c3=128):
        super().__init__()
        self.conv1 = ConvLayer(3, c1, 9)
        self.in1 = nn.InstanceNorm2d(c1, affine=True)
        self.conv2 = ConvLayer(c1, c2, 3, 2)
        self.in2 = nn.InstanceNorm2d(c2, affine=True)
        self.conv3 = ConvLayer(c2, c3, 3, 2)
        self.in3 = nn.InstanceNorm2d(c3, affine=True)
        for r in range(1, 6):
            setattr(self, f"res{r}", ResidualBlock(c3))
        self.deconv1 = ConvLayer(c3, c2, 3, upsample=2)
        self.in4 = nn.InstanceNorm2d(c2, affine=True)
        self.deconv2 = ConvLayer(c2, c1, 3, upsample=2)
        self.in5 = nn.InstanceNorm2d(c1, affine=True)
        self.deconv3 = ConvLayer(c1, 3, 9)

    def forward(self, x):
        y = F.relu(self.in1(self.conv1(x)))
        y = F.relu(self.in2(self.conv2(y)))
        y = F.relu(self.in3(self.conv3(y)))
        for r in range(1, 6):
            y = getattr(self, f"res{r}")(y)
        y = F.relu(self.in4(self.deconv1(y)))
        y = F.relu(self.in5(self.deconv2(y)))
        return 150.0 * torch.tanh(self.deconv3(y)) + 127.5


class Ml5Net(nn.Module):
    """lengstrom's fast-style-transfer as ml5.js runs it ('ml5-lengstrom' in src/models/transform-net.ts, our
    parameter names): TF SAME zero padding, no conv biases, IN eps 1e-3 (also after the last conv), 3×3 stride-2
    transposed convs ([Cin, Cout, K, K]) cropped to 2H × 2W."""

    def __init__(self, weights):
        super().__init__()
        # Dots are not allowed in parameter names: keep the tensors by our names in a plain dict of buffers.
        self.names = list(weights)
        for i, name in enumerate(self.names):
            self.register_buffer(f"p{i}", weights[name].clone())

    def p(self, name):
        return getattr(self, f"p{self.names.index(name)}")

    @staticmethod
    def same_pad(x, k, s):
        def amount(n):
            total = max((-(-n // s) - 1) * s + k - n, 0)
            return total // 2, total - total // 2
        (t, b), (l, r) = amount(x.shape[2]), amount(x.shape[3])
        return F.pad(x, (l, r, t, b))

    def layer(self, conv, norm, x, stride=1, transposed=False):
        w = self.p(f"{conv}.conv2d.weight")
        if transposed:
            h, wd = x.shape[2], x.shape[3]
            y = F.conv_transpose2d(x, w, stride=2)[:, :, : 2 * h, : 2 * wd]
        else:
            y = F.conv2d(self.same_pad(x, w.shape[-1], stride), w, stride=stride)
        return F.instance_norm(y, weight=self.p(f"{norm}.weight"), bias=self.p(f"{norm}.bias"), eps=1e-3)

    def forward(self, x):
        y = F.relu(self.layer("conv1", "in1", x))
        y = F.relu(self.layer("conv2", "in2", y, 2))
        y = F.relu(self.layer("conv3", "in3", y, 2))
        for r in range(1, 6):
            h = F.relu(self.layer(f"res{r}.conv1", f"res{r}.in1", y))
            y = y + self.layer(f"res{r}.conv2", f"res{r}.in2", h)
        y = F.relu(self.layer("deconv1", "in4", y, transposed=True))
        y = F.relu(self.layer("deconv2", "in5", y, transposed=True))
        return 150.0 * torch.tanh(self.layer("deconv3", "in6", y)) + 127.5


VGG16_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512]
# Indices in torchvision's vgg16().features of relu1_2, relu2_2, relu3_3, relu4_3.
STYLE_TAPS = {3: "relu1_2", 8: "relu2_2", 15: "relu3_3", 22: "relu4_3"}
CONTENT_TAP = 8
CAFFE_MEAN = (123.68, 116.779, 103.939)


def vgg16_to_relu4_3():
    layers, cin = [], 3
    for v in VGG16_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=False)]
            cin = v
    net = nn.Sequential(*layers)
    for p in net.parameters():
        p.requires_grad_(False)
    return net


VGG19_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256]
# Indices in torchvision's vgg19().features of relu1_2, relu2_2, relu3_4 (the shared file's loss layers).
VGG19_STYLE_TAPS = {3: "relu1_2", 8: "relu2_2", 17: "relu3_4"}


def vgg19_from_file(path):
    """torchvision vgg19().features up to relu3_4, with the file's features.N weights (caffe input)."""
    weights = read_safetensors(path)
    layers, cin = [], 3
    for v in VGG19_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(inplace=False)]
            cin = v
    net = nn.Sequential(*layers)
    net.load_state_dict({k[len("features."):]: v for k, v in weights.items() if k.startswith("features.") and int(k.split(".")[1]) < len(layers)})
    for p in net.parameters():
        p.requires_grad_(False)
    return net


def vgg_features(vgg, x, taps=None, stop=None):
    taps = STYLE_TAPS if taps is None else taps
    mean = torch.tensor(CAFFE_MEAN, device=x.device).view(1, 3, 1, 1)
    h = x - mean
    feats = {}
    for i, layer in enumerate(vgg):
        h = layer(h)
        if i in taps:
            feats[i] = h
        if stop is not None and i >= stop:
            break
    return feats


def gram(f):
    n, c, h, w = f.shape
    f = f.reshape(n, c, h * w)
    return f @ f.transpose(1, 2) / (c * h * w)


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def timed(fn, runs, warmup, device):
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    return {"median_ms": times[len(times) // 2] if len(times) % 2 else (times[len(times) // 2 - 1] + times[len(times) // 2]) / 2,
            "min_ms": times[0], "runs": runs, "times_ms": times}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True)
    ap.add_argument("--input", help="raw float32 NCHW [1,3,S,S]; random if absent")
    ap.add_argument("--sizes", default="256", help="comma-separated square sizes; --input must match the first")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--output", help="write the first size's output (float32 NCHW) here")
    ap.add_argument("--train", action="store_true")
    ap.add_argument("--train-size", type=int, default=256)
    ap.add_argument("--train-batch", type=int, default=4)
    ap.add_argument("--train-runs", type=int, default=3)
    ap.add_argument("--vgg-file", help="train against this VGG19 file (features.N names, caffe input) to relu3_4")
    ap.add_argument("--style-size", type=int, default=0, help="style image side (default: the training size)")
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    ap.add_argument("--arch", default="johnson2016", choices=["johnson2016", "ml5-lengstrom"], help="which net the weights are for")
    args = ap.parse_args()

    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = False  # FP32 throughout, like the other peers
    torch.backends.cudnn.allow_tf32 = False

    weights = read_safetensors(args.weights)
    if args.arch == "ml5-lengstrom":
        if args.train:
            raise SystemExit("--train: only the johnson2016 net is trained here")
        net = Ml5Net(weights)
    else:
        c1, c2, c3 = weights["conv1.conv2d.weight"].shape[0], weights["conv2.conv2d.weight"].shape[0], weights["conv3.conv2d.weight"].shape[0]
        net = TransformNet(c1, c2, c3)
        net.load_state_dict(weights, strict=True)
    net.to(device)

    result = {
        "device": str(device),
        "device_name": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "stylize": {},
    }
    sizes = [int(s) for s in args.sizes.split(",") if s]
    net.eval()
    for i, s in enumerate(sizes):
        if i == 0 and args.input:
            with open(args.input, "rb") as f:
                x = torch.frombuffer(bytearray(f.read()), dtype=torch.float32).reshape(1, 3, s, s).clone()
        else:
            g = torch.Generator().manual_seed(s)
            x = torch.rand(1, 3, s, s, generator=g) * 255
        x = x.to(device)

        def forward():
            with torch.no_grad():
                return net(x)

        # Like the JS peers: the output is copied back to host memory in every timed run.
        result["stylize"][str(s)] = timed(lambda: forward().cpu(), args.runs, args.warmup, device)
        if i == 0 and args.output:
            y = forward().cpu().contiguous().flatten()
            with open(args.output, "wb") as f:
                f.write(struct.pack(f"<{y.numel()}f", *y.tolist()))

    if args.train:
        net.train()
        if args.vgg_file:
            vgg, taps = vgg19_from_file(args.vgg_file).to(device), VGG19_STYLE_TAPS
        else:
            vgg, taps = vgg16_to_relu4_3().to(device), STYLE_TAPS
        s, b = args.train_size, args.train_batch
        ss = args.style_size or s
        g = torch.Generator().manual_seed(1)
        batch = (torch.rand(b, 3, s, s, generator=g) * 255).to(device)
        style = (torch.rand(1, 3, ss, ss, generator=g) * 255).to(device)
        with torch.no_grad():
            style_grams = {k: gram(v) for k, v in vgg_features(vgg, style, taps).items()}
        opt = torch.optim.Adam(net.parameters(), lr=1e-3)

        def step():
            opt.zero_grad(set_to_none=True)
            y = net(batch)
            fy = vgg_features(vgg, y, taps)
            with torch.no_grad():
                fx = vgg_features(vgg, batch, {CONTENT_TAP: "relu2_2"}, stop=CONTENT_TAP)
            loss = F.mse_loss(fy[CONTENT_TAP], fx[CONTENT_TAP])
            for k in taps:
                loss = loss + 0.1 * F.mse_loss(gram(fy[k]), style_grams[k].expand(b, -1, -1))
            tv = ((y[:, :, :, 1:] - y[:, :, :, :-1]) ** 2).mean() + ((y[:, :, 1:, :] - y[:, :, :-1, :]) ** 2).mean()
            loss = loss + tv
            loss.backward()
            opt.step()
            return loss.item()

        result["train"] = timed(step, args.train_runs, 1, device)
        result["train"].update({"size": s, "batch": b})

    print(json.dumps(result))


if __name__ == "__main__":
    main()
