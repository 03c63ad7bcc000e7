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
resnet 8 (about 4 and 6 minutes on 2 idle cores). The model after the last
epoch is exported; the test set is only used to report accuracy.

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

    def forward(self, x):
        return self.classifier(self.features(x))


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

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        sc = x if self.shortcut is None else self.shortcut(x)
        return F.relu(out + sc)


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

    def forward(self, x):
        x = self.pool(self.stages(self.stem(x)))
        return self.fc(torch.flatten(x, 1))


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


# ------------------------------------------------------------ training ----

@torch.no_grad()
def evaluate(model, x, y, batch=1000):
    model.eval()
    correct = 0
    for i in range(0, x.shape[0], batch):
        pred = model(x[i:i + batch]).argmax(1)
        correct += int((pred == y[i:i + batch]).sum())
    return correct / x.shape[0]


def train(name, epochs, seed, batch, lr, aug, log):
    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    xtr_u8, ytr_np = load_split("train")
    xte_u8, yte_np = load_split("t10k")
    xtr, ytr = preprocess(xtr_u8), torch.from_numpy(ytr_np)
    xte, yte = preprocess(xte_u8), torch.from_numpy(yte_np)

    model = build(name)
    nparams = sum(p.numel() for p in model.parameters())
    log(f"[{name}] {nparams} parameters, {epochs} epochs, batch {batch}, "
        f"lr {lr}, augment {aug}, seed {seed}")

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
            loss = F.cross_entropy(model(xb), yb)
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
    args = ap.parse_args()

    torch.set_num_threads(THREADS)
    torch.use_deterministic_algorithms(True)
    os.makedirs(args.out, exist_ok=True)

    def log(msg):
        print(msg, flush=True)

    names = ["vgg", "resnet"] if args.model == "all" else [args.model]
    results = []
    for name in names:
        epochs = args.epochs if args.epochs is not None else DEFAULT_EPOCHS[name]
        t0 = time.time()
        model, xte, yte, nparams = train(name, epochs, args.seed, args.batch,
                                         args.lr, args.augment, log)
        acc, path = export(model, name, xte, yte, args.out, log)
        results.append((name, nparams, acc, path, time.time() - t0))
    for name, nparams, acc, path, secs in results:
        log(f"{name}: {nparams} params, test acc {acc:.4f}, "
            f"{os.path.getsize(path)} bytes, {secs:.0f} s -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
