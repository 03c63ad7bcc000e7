#!/usr/bin/python3
"""Train the two small Fashion-MNIST nets jalad ships, and export them to ONNX.

    /usr/bin/python3 models/train_fmnist.py --model all

Nets:
  vgg     3 x [conv3x3-BN-ReLU x2, maxpool2], widths 16/32/64, FC 576-128-10
  resnet  stem conv3x3 16, 3 stages x 2 basic blocks (16/32/64), GAP, FC 10

Data is read from the Debian package dataset-fashion-mnist (idx files, gzip),
never downloaded. Preprocessing: x = pixel / 255, then (x - 0.2860) / 0.3530.
Training: AdamW (weight decay 5e-4), one-cycle schedule (15% warm-up, cosine
decay) peaking at lr 3e-3, batch 128, random horizontal flips; vgg 10 epochs,
resnet 8 (about 5 and 7 minutes on 2 idle cores). The model after the last
epoch is exported; the test set is only used to report accuracy.

Quantization-aware training (--qat P, default 0.5): jalad quantizes every
feature map crossing a cut per tensor and per image by min-max to c bits,
q = round_half_even((x - min) / (max - min) * (2^c - 1)), dequantized as
min + q * (max - min) / (2^c - 1). So that c = 4 costs little at every cut,
each training batch, with probability P, has its input image fake-quantized
this way, and independently with probability P two distinct internal cut
points chosen uniformly: any ReLU or MaxPool output (a Conv feeding only a
ReLU is cut after the ReLU), the logits, in the resnet the stem output, each
block's output (Add + ReLU) and, inside a block, the branch tensor (conv1's
ReLU output, or conv2's signed output before the Add, or that and the
projection output) together with the skip tensor, each with its own min/max.
Each sample draws its own c from {3, 4, 5, 6}; the backward pass
is the straight-through estimator. Fake quantization exists only in training
and in --eval-cuts: the exported graph is the plain eval-mode model.
--eval-cuts prints, after training, the test accuracy with 4-bit quantization
at each cut alone (3, 4 and 5 bits at the input); --eval-cuts-only prints the
same table for the already exported fmnist-<net>.onnx under --out (loaded
back into PyTorch with the folded weights) without training.

For each net this writes (under --out, default models/):
  fmnist-<net>.onnx                          opset 13, input "input" [1,1,28,28],
                                             output "logits" [1,10], BN folded
  fmnist-<net>/test_data_set_{0,1}/input_0.pb, output_0.pb
                                             first/second test image and the
                                             logits PyTorch computed for it
The ONNX file carries metadata_props (jalad.preprocess.*, jalad.labels,
jalad.test_accuracy, ...), see models/README.md.

Training is deterministic for a given --seed on one machine (fixed seeds,
deterministic algorithms, fixed thread count); results can differ in the last
digits between CPUs or library builds.
"""

import argparse
import gzip
import math
import os
import sys
import time

# When other work shares the two cores, libgomp's default busy-waiting makes
# each training step ~10x slower (measured: 3.4 s vs 0.28 s per ResNet step
# under load). Must be set before torch loads its OpenMP runtime.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import onnx  # noqa: E402
from onnx import numpy_helper  # noqa: E402

DATA_DIR = "/usr/share/datasets/fashion-mnist"
MEAN = 0.2860
STD = 0.3530
SCALE = 1.0 / 255.0
LABELS = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
          "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
DEFAULT_EPOCHS = {"vgg": 10, "resnet": 8}
THREADS = 2


# ---------------------------------------------------------------- data ----

def read_idx(path, magic, ndim):
    """Read one gzip'd idx file (big-endian header) into a uint8 array."""
    with gzip.open(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path}: {len(raw)} bytes is too short for an idx header")
    got = int.from_bytes(raw[0:4], "big")
    if got != magic:
        raise ValueError(f"{path}: magic {got:#x}, expected {magic:#x}")
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    body = raw[4 + 4 * ndim:]
    if len(body) != int(np.prod(dims)):
        raise ValueError(f"{path}: payload {len(body)} bytes, header says {dims}")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def load_split(split):
    """Return (images uint8 (N,28,28), labels int64 (N,)) for 'train' or 't10k'."""
    x = read_idx(os.path.join(DATA_DIR, f"{split}-images-idx3-ubyte.gz"), 0x803, 3)
    y = read_idx(os.path.join(DATA_DIR, f"{split}-labels-idx1-ubyte.gz"), 0x801, 1)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"{split}: {x.shape[0]} images but {y.shape[0]} labels")
    return x, y.astype(np.int64)


def preprocess(images_u8):
    """uint8 (N,28,28) -> float32 tensor (N,1,28,28), the preprocessing the
    ONNX metadata describes."""
    x = images_u8.astype(np.float32) * np.float32(SCALE)
    x = (x - np.float32(MEAN)) / np.float32(STD)
    return torch.from_numpy(np.ascontiguousarray(x[:, None, :, :]))


def augment(x, gen, mode):
    """mode "flip": random horizontal flip; "shift": flip and a random
    translation by up to 2 pixels, the border filled with the normalized
    value of a black pixel."""
    n = x.shape[0]
    flip = torch.rand(n, generator=gen) < 0.5
    x = torch.where(flip[:, None, None, None], x.flip(3), x)
    if mode == "flip":
        return x
    pad = 2
    bg = (0.0 - MEAN) / STD
    xp = F.pad(x, (pad, pad, pad, pad), value=bg)
    dy = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    dx = torch.randint(0, 2 * pad + 1, (n,), generator=gen)
    # Gather the shifted 28x28 windows with index arithmetic (no Python loop).
    rows = (dy[:, None] + torch.arange(28)[None, :])          # (n, 28)
    cols = (dx[:, None] + torch.arange(28)[None, :])          # (n, 28)
    idx = rows[:, :, None] * (28 + 2 * pad) + cols[:, None, :]  # (n, 28, 28)
    flat = xp.reshape(n, -1)
    return flat.gather(1, idx.reshape(n, -1)).reshape(n, 1, 28, 28)


# -------------------------------------------------------------- models ----

def conv_bn_relu(cin, cout):
    return [nn.Conv2d(cin, cout, 3, padding=1, bias=False),
            nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]


class VGGNet(nn.Module):
    """3 x [conv3x3-BN-ReLU x2, maxpool2] (16/32/64), Flatten, FC 576-128-10."""

    def __init__(self):
        super().__init__()
        layers = []
        cin = 1
        for w in (16, 32, 64):
            layers += conv_bn_relu(cin, w) + conv_bn_relu(w, w)
            layers.append(nn.MaxPool2d(2))
            cin = w
        self.features = nn.Sequential(*layers)  # 28 -> 14 -> 7 -> 3
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(64 * 3 * 3, 128), nn.ReLU(inplace=True),
            nn.Linear(128, 10))

    def forward(self, x, q=None):
        """q (training/evaluation only, never exported): q(name, *tensors)
        returns the tensors crossing a cut at point `name`, possibly
        fake-quantized. Points, in the ONNX graph's topological order:
        input, each ReLU output (= a cut after the Conv, whose output feeds
        only that ReLU), each MaxPool output (= Flatten), FC1's ReLU output,
        logits."""
        if q is None:
            return self.classifier(self.features(x))
        (x,) = q("input", x)
        for i, m in enumerate(self.features):
            x = m(x)
            if isinstance(m, (nn.ReLU, nn.MaxPool2d)):
                (x,) = q(f"features.{i}", x)
        for i, m in enumerate(self.classifier):
            x = m(x)
            if isinstance(m, (nn.ReLU, nn.Linear)) and i != 1:
                (x,) = q(f"classifier.{i}", x)
        return x


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.shortcut = None
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                nn.BatchNorm2d(cout))

    def forward(self, x, q=None, name=""):
        # Cut points inside the block cross two tensors: the branch and the
        # skip input (the block input, or the projection once it is computed;
        # ONNX order: conv1, relu, conv2, shortcut conv, Add, relu).
        out = F.relu(self.bn1(self.conv1(x)))
        if q is not None:
            out, x = q(f"{name}.relu1", out, x)
        out = self.bn2(self.conv2(out))
        if q is not None:
            out, x = q(f"{name}.conv2", out, x)
        sc = x if self.shortcut is None else self.shortcut(x)
        if q is not None and self.shortcut is not None:
            out, sc = q(f"{name}.shortcut", out, sc)
        out = F.relu(out + sc)
        if q is not None:
            # The Add output feeds only the ReLU, so a cut after the Add is
            # the same as a cut after that ReLU (the block output).
            (out,) = q(f"{name}.out", out)
        return out


class ResNet(nn.Module):
    """Stem conv3x3 16-BN-ReLU, 3 stages x 2 basic blocks (16/32/64, stride 2
    and a 1x1 projection at the start of stages 2 and 3), GAP, FC 10."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Sequential(*conv_bn_relu(1, 16))
        blocks = []
        cin = 16
        for i, w in enumerate((16, 32, 64)):
            stride = 1 if i == 0 else 2
            blocks += [BasicBlock(cin, w, stride), BasicBlock(w, w, 1)]
            cin = w
        self.stages = nn.Sequential(*blocks)  # 28 -> 28 -> 14 -> 7
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, 10)

    def forward(self, x, q=None):
        """q: see VGGNet.forward. Points: input, stem ReLU, per block
        relu1 (+ block input), conv2 (+ block input), shortcut (conv2 +
        projection, stride-2 blocks only), out (Add/ReLU), then the global
        average pool (= Flatten) and the logits."""
        if q is None:
            x = self.pool(self.stages(self.stem(x)))
            return self.fc(torch.flatten(x, 1))
        (x,) = q("input", x)
        (x,) = q("stem", self.stem(x))
        for i, b in enumerate(self.stages):
            x = b(x, q, f"stages.{i}")
        (x,) = q("pool", self.pool(x))
        (x,) = q("fc", self.fc(torch.flatten(x, 1)))
        return x


def build(name):
    if name == "vgg":
        model = VGGNet()
    elif name == "resnet":
        model = ResNet()
    else:
        raise ValueError(name)
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
    return model


# ------------------------------------------------ cut-point quantization ----

def fake_quant(x, bits):
    """Per-sample min-max quantization to `bits` (int, or a tensor of shape
    (N,) giving each sample its own width), then dequantization, exactly as
    at a jalad cut: q = round_half_even((x - min) / (max - min) * (2^c - 1)),
    x' = min + q * (max - min) / (2^c - 1), min/max over one sample's whole
    tensor. Straight-through estimator: the backward pass is the identity."""
    n = x.shape[0]
    flat = x.detach().reshape(n, -1)
    lo = flat.amin(1)
    rng = flat.amax(1) - lo
    if not torch.is_tensor(bits):
        bits = torch.full((n,), int(bits))
    levels = (2.0 ** bits.to(x.dtype)) - 1.0
    safe = torch.where(rng > 0, rng, torch.ones_like(rng))
    shape = (n,) + (1,) * (x.dim() - 1)
    lo, rng, safe, levels = (t.reshape(shape) for t in (lo, rng, safe, levels))
    q = torch.round((x.detach() - lo) / safe * levels)  # torch.round: half to even
    xq = torch.where(rng > 0, lo + q * (rng / levels), x.detach())
    return x + (xq - x).detach()


def cut_points(model):
    """Names of the model's cut points in graph order (see forward())."""
    names = []

    def rec(name, *ts):
        names.append(name)
        return ts
    with torch.no_grad():
        model.eval()
        model(torch.zeros(1, 1, 28, 28), rec)
    return names


def quant_hook(point, bits):
    """q() for forward(): quantize every tensor crossing cut `point`."""
    def q(name, *ts):
        if name != point:
            return ts
        return tuple(fake_quant(t, bits) for t in ts)
    return q


# QAT: per training batch, with probability P the input is fake-quantized,
# and independently with probability P QAT_INNER distinct internal cut points
# chosen uniformly (every ReLU/MaxPool output and the logits; in the resnet
# also the stem, each block's branch tensors together with the skip tensor,
# and the block outputs) are. Each sample draws its own width from QAT_BITS.
QAT_BITS = (3, 4, 5, 6)
QAT_INNER = 2


def qat_hook(points, p, gen, n):
    """Random QAT q() for one batch of n samples (None: no quantization)."""
    chosen = {}
    if float(torch.rand(1, generator=gen)) < p:
        chosen["input"] = torch.tensor(QAT_BITS)[
            torch.randint(0, len(QAT_BITS), (n,), generator=gen)]
    if float(torch.rand(1, generator=gen)) < p:
        inner = points[1:]
        pick = torch.randperm(len(inner), generator=gen)[:QAT_INNER]
        for k in pick.tolist():
            chosen[inner[k]] = torch.tensor(QAT_BITS)[
                torch.randint(0, len(QAT_BITS), (n,), generator=gen)]
    if not chosen:
        return None

    def q(name, *ts):
        b = chosen.get(name)
        if b is None:
            return ts
        return tuple(fake_quant(t, b) for t in ts)
    return q


# What each point stands for in the exported graph (every ONNX node output
# is one of these cuts; a Conv feeding only a ReLU is quantized after it).
def point_desc(name, model):
    if name == "input":
        return "input"
    if isinstance(model, VGGNet):
        kind, i = name.split(".")
        m = getattr(model, kind)[int(i)]
        if kind == "classifier":
            return "Gemm, Relu" if isinstance(m, nn.ReLU) else "Gemm (logits)"
        if isinstance(m, nn.ReLU):
            return "Conv, Relu"
        return "MaxPool, Flatten" if int(i) == len(model.features) - 1 else "MaxPool"
    last = name.rsplit(".", 1)[-1]
    return {"stem": "Conv, Relu", "relu1": "conv1 Conv, Relu (+ block input)",
            "conv2": "conv2 Conv (+ block input)",
            "shortcut": "shortcut Conv (+ conv2 output)",
            "out": "Add, Relu", "pool": "GlobalAveragePool, Flatten",
            "fc": "Gemm (logits)"}[last]


@torch.no_grad()
def eval_cuts(model, name, x, y, log, batch=1000):
    """Accuracy with c-bit quantization at each cut alone: c = 4 everywhere,
    c = 3, 4, 5 at the input. Returns (float acc, max 4-bit loss)."""
    model.eval()

    def acc_with(q):
        correct = 0
        for i in range(0, x.shape[0], batch):
            pred = model(x[i:i + batch], q).argmax(1)
            correct += int((pred == y[i:i + batch]).sum())
        return correct / x.shape[0]
    base = evaluate(model, x, y)
    log(f"[{name}] cut-point quantization, {x.shape[0]} test images, "
        f"float acc {base:.4f}; loss in points (float - quantized)")
    log(f"[{name}]   {'cut':<18} {'ONNX nodes':<34} {'c':>2} {'acc':>7} {'loss':>6}")
    worst = 0.0
    for pt in cut_points(model):
        for c in ((3, 4, 5) if pt == "input" else (4,)):
            a = acc_with(quant_hook(pt, c))
            loss = 100.0 * (base - a)
            if c == 4:
                worst = max(worst, loss)
            log(f"[{name}]   {pt:<18} {point_desc(pt, model):<34} {c:>2} "
                f"{a:.4f} {loss:6.2f}")
    log(f"[{name}] max 4-bit loss over all cuts: {worst:.2f} points")
    return base, worst


def load_onnx_into(model, path):
    """Load an exported (BN-folded) ONNX file into the PyTorch architecture:
    each BatchNorm becomes an Identity and its Conv gets the folded bias.
    The Convs/Gemms appear in the graph in the module's trace order."""
    m = onnx.load(path)
    init = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy())
            for t in m.graph.initializer}
    nodes = [n for n in m.graph.node if n.op_type in ("Conv", "Gemm")]
    convs, lins = [], []

    def fold(parent):
        for cname, child in list(parent.named_children()):
            if isinstance(child, nn.BatchNorm2d):
                setattr(parent, cname, nn.Identity())
            else:
                fold(child)
    fold(model)
    for mod in model.modules():  # registration order == trace order here
        if isinstance(mod, nn.Conv2d):
            convs.append(mod)
        elif isinstance(mod, nn.Linear):
            lins.append(mod)
    if isinstance(model, ResNet):
        # trace order inside a projection block: conv1, conv2, shortcut
        convs = [model.stem[0]]
        for b in model.stages:
            convs += [b.conv1, b.conv2] + ([b.shortcut[0]] if b.shortcut else [])
    mods = iter(convs + lins)
    for n in nodes:
        mod = next(mods)
        w = init[n.input[1]]
        if mod.weight.shape != w.shape:
            raise ValueError(f"{path}: {n.name} weight {tuple(w.shape)} "
                             f"!= {tuple(mod.weight.shape)}")
        mod.weight = nn.Parameter(w)
        mod.bias = nn.Parameter(init[n.input[2]])
    model.eval()
    return model


# ------------------------------------------------------------ training ----

@torch.no_grad()
def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    for i in range(0, x.shape[0], batch):
        pred = model(x[i:i + batch]).argmax(1)
        correct += int((pred == y[i:i + batch]).sum())
    return correct / x.shape[0]


def train(name, epochs, seed, batch, lr, aug, qat, log):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    xtr_u8, ytr_np = load_split("train")
    xte_u8, yte_np = load_split("t10k")
    xtr, ytr = preprocess(xtr_u8), torch.from_numpy(ytr_np)
    xte, yte = preprocess(xte_u8), torch.from_numpy(yte_np)

    model = build(name)
    nparams = sum(p.numel() for p in model.parameters())
    log(f"[{name}] {nparams} parameters, {epochs} epochs, batch {batch}, "
        f"lr {lr}, augment {aug}, qat {qat}, seed {seed}")
    points = cut_points(model)

    steps_per_epoch = math.ceil(xtr.shape[0] / batch)
    total = epochs * steps_per_epoch
    opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=5e-4)
    # One-cycle: short linear warm-up, then cosine decay to ~0.
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=lr, total_steps=total, pct_start=0.15,
        anneal_strategy="cos", div_factor=10.0, final_div_factor=100.0)

    for ep in range(epochs):
        model.train()
        t0 = time.time()
        perm = torch.randperm(xtr.shape[0], generator=gen)
        loss_sum, seen = 0.0, 0
        for s in range(steps_per_epoch):
            idx = perm[s * batch:(s + 1) * batch]
            xb, yb = xtr[idx], ytr[idx]
            if aug != "none":
                xb = augment(xb, gen, aug)
            q = qat_hook(points, qat, gen, xb.shape[0]) if qat > 0 else None
            loss = F.cross_entropy(model(xb, q), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss) * xb.shape[0]
            seen += xb.shape[0]
        acc = evaluate(model, xte, yte)
        log(f"[{name}] epoch {ep + 1}/{epochs} loss {loss_sum / seen:.4f} "
            f"test acc {acc:.4f} ({time.time() - t0:.0f} s)")
    model.eval()
    return model, xte, yte, nparams


# -------------------------------------------------------------- export ----

def metadata(acc):
    return {
        "jalad.preprocess.scale": repr(SCALE),
        "jalad.preprocess.mean": f"{MEAN:.4f}",
        "jalad.preprocess.std": f"{STD:.4f}",
        "jalad.input.layout": "NCHW",
        "jalad.dataset": "fashion-mnist",
        "jalad.labels": ",".join(LABELS),
        "jalad.test_accuracy": f"{acc:.4f}",
    }


def export(model, name, xte, yte, out_dir, log):
    model.eval()
    # The accuracy recorded is that of the exact float model being exported.
    acc = evaluate(model, xte, yte)
    path = os.path.join(out_dir, f"fmnist-{name}.onnx")
    dummy = xte[0:1].clone()
    torch.onnx.export(model, dummy, path, opset_version=13,
                      input_names=["input"], output_names=["logits"],
                      do_constant_folding=True, export_params=True,
                      training=torch.onnx.TrainingMode.EVAL)
    m = onnx.load(path)
    onnx.helper.set_model_props(m, metadata(acc))
    onnx.checker.check_model(m)
    onnx.save(m, path)
    onnx.checker.check_model(path)

    ops = sorted({n.op_type for n in m.graph.node})
    if "BatchNormalization" in ops:
        raise RuntimeError(f"{path}: BatchNormalization was not folded into Conv")
    log(f"[{name}] wrote {path} ({os.path.getsize(path)} bytes), "
        f"test acc {acc:.4f}, op types: {' '.join(ops)}")

    test_dir = os.path.join(out_dir, f"fmnist-{name}")
    with torch.no_grad():
        for i in range(2):
            d = os.path.join(test_dir, f"test_data_set_{i}")
            os.makedirs(d, exist_ok=True)
            x = xte[i:i + 1].clone()
            y = model(x)
            xin = numpy_helper.from_array(x.numpy(), name="input")
            yout = numpy_helper.from_array(y.numpy(), name="logits")
            with open(os.path.join(d, "input_0.pb"), "wb") as f:
                f.write(xin.SerializeToString())
            with open(os.path.join(d, "output_0.pb"), "wb") as f:
                f.write(yout.SerializeToString())
            log(f"[{name}] {d}: label {LABELS[int(yte[i])]}, "
                f"predicted {LABELS[int(y.argmax())]}")
    return acc, path


# ---------------------------------------------------------------- main ----

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=["vgg", "resnet", "all"], default="all")
    ap.add_argument("--epochs", type=int, default=None,
                    help="epochs (default: vgg 10, resnet 8)")
    ap.add_argument("--out", default=os.path.dirname(os.path.abspath(__file__)),
                    help="output directory (default: models/)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=3e-3, help="peak learning rate")
    ap.add_argument("--augment", choices=["none", "flip", "shift"],
                    default="flip",
                    help="training augmentation: none, random horizontal "
                    "flip (default), or flip + random shift by up to 2 px")
    ap.add_argument("--qat", type=float, default=0.5, metavar="P",
                    help="quantization-aware training: per batch, with "
                    "probability P fake-quantize the input and, independently "
                    "with probability P, two random internal cut points, to "
                    "3-6 bits per sample (default 0.5; 0 disables)")
    ap.add_argument("--eval-cuts", action="store_true",
                    help="after training, print the accuracy loss of 4-bit "
                    "quantization at every cut (and 3/5 bits at the input)")
    ap.add_argument("--eval-cuts-only", action="store_true",
                    help="do not train: load --out/fmnist-<net>.onnx into "
                    "PyTorch and print the --eval-cuts table")
    args = ap.parse_args()

    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)

    def log(msg):
        print(msg, flush=True)

    names = ["vgg", "resnet"] if args.model == "all" else [args.model]
    results = []
    if args.eval_cuts_only:
        xte_u8, yte_np = load_split("t10k")
        xte, yte = preprocess(xte_u8), torch.from_numpy(yte_np)
        for name in names:
            path = os.path.join(args.out, f"fmnist-{name}.onnx")
            model = load_onnx_into(build(name), path)
            log(f"[{name}] loaded {path}")
            eval_cuts(model, name, xte, yte, log)
        return 0
    for name in names:
        epochs = args.epochs if args.epochs is not None else DEFAULT_EPOCHS[name]
        t0 = time.time()
        model, xte, yte, nparams = train(name, epochs, args.seed, args.batch,
                                         args.lr, args.augment, args.qat, log)
        secs = time.time() - t0
        acc, path = export(model, name, xte, yte, args.out, log)
        if args.eval_cuts:
            eval_cuts(model, name, xte, yte, log)
        results.append((name, nparams, acc, path, secs))
    for name, nparams, acc, path, secs in results:
        log(f"{name}: {nparams} params, test acc {acc:.4f}, "
            f"{os.path.getsize(path)} bytes, {secs:.0f} s -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
