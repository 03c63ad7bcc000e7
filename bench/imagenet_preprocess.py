#!/usr/bin/python3
"""ImageNet "central crop" preprocessing, the reference for jalad's C side.

    /usr/bin/python3 bench/imagenet_preprocess.py PHOTO OUT.pb \
        [--size 224] [--scale 1] [--mean 128] [--std 128]

writes the float model input, NCHW (1, 3, size, size) float32, as an ONNX
TensorProto, so a test can compare it with the tensor the C side dumps.
bench/tflite_reference.py imports this module (uint8 NHWC for ArmNN).

Spec (version SPEC_VERSION; the C implementation follows the same text):
  1. Decode the JPEG with PIL (libjpeg-turbo, ISLOW DCT, fancy upsampling),
     convert('RGB') (gray replicated); pixels p uint8 (h, w, 3).
  2. s = 0.875 * min(h, w) (float64); y_origin = (h - s) / 2,
     x_origin = (w - s) / 2 (float64, not rounded); H = W = size;
     step_y = s / H, step_x = s / W (float64).
  3. Output row o: src = ((o + 0.5) * step_y - 0.5) + y_origin in float64,
     in that order; src < 0 -> 0; lo = int(src) (truncation);
     lo = min(lo, h - 1); hi = min(lo + 1, h - 1); f = float32(src - lo).
     Columns the same with step_x, x_origin, w.
  4. float32 bilinear, in this order: a = p[y0,x0], b = p[y0,x1],
     d = p[y1,x0], e = p[y1,x1]; top = a + (b - a) * fx;
     bot = d + (e - d) * fx; v = top + (bot - top) * fy (no FMA).
  5. Float input: x = (v * scale - mean) / std in float32, NCHW.
  6. uint8 input: q = clip(floor(v + 0.5), 0, 255) (v + 0.5 in float32,
     as C's floorf(v + 0.5f)), NHWC.  Half up, not half to even: v often
     ends in exactly .5, where rint()/np.round() would differ.
numpy float32 element-wise ops are single IEEE operations (never fused),
so this matches C compiled without -ffast-math / FP contraction.
"""

import argparse
import sys

import numpy as np
from PIL import Image

SPEC_VERSION = "central-crop-v1"
CROP_FRACTION = 0.875


def load_rgb(path):
    """Decode a photo to uint8 (h, w, 3) RGB (step 1)."""
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


def _axis(n_in, n_out, s, origin):
    """Source indices lo, hi and float32 fractions for one axis (step 3)."""
    step = s / n_out
    lo = np.empty(n_out, dtype=np.int64)
    hi = np.empty(n_out, dtype=np.int64)
    f = np.empty(n_out, dtype=np.float32)
    for o in range(n_out):
        src = ((o + 0.5) * step - 0.5) + origin  # Python floats are float64
        if src < 0:
            src = 0.0
        l = min(int(src), n_in - 1)
        lo[o] = l
        hi[o] = min(l + 1, n_in - 1)
        f[o] = np.float32(src - l)
    return lo, hi, f


def central_crop(pixels, size=224):
    """Crop + bilinear resize (steps 2-4): float32 (size, size, 3) in [0, 255]."""
    h, w = pixels.shape[0], pixels.shape[1]
    s = CROP_FRACTION * float(min(h, w))
    y_origin = (h - s) / 2.0
    x_origin = (w - s) / 2.0
    y0, y1, fy = _axis(h, size, s, y_origin)
    x0, x1, fx = _axis(w, size, s, x_origin)
    p = pixels.astype(np.float32)
    a = p[y0][:, x0]
    b = p[y0][:, x1]
    d = p[y1][:, x0]
    e = p[y1][:, x1]
    fx3 = fx[None, :, None]
    fy3 = fy[:, None, None]
    top = a + (b - a) * fx3
    bot = d + (e - d) * fx3
    v = top + (bot - top) * fy3
    assert v.dtype == np.float32
    return v


def to_float_nchw(v, scale=1.0, mean=128.0, std=128.0):
    """Step 5: (v * scale - mean) / std in float32, shape (1, 3, H, W)."""
    x = (v * np.float32(scale) - np.float32(mean)) / np.float32(std)
    return np.ascontiguousarray(x.astype(np.float32).transpose(2, 0, 1)[None])


def to_uint8_nhwc(v):
    """Step 6: clip(floor(v + 0.5), 0, 255) as uint8, shape (1, H, W, 3)."""
    q = np.floor(v + np.float32(0.5))
    return np.ascontiguousarray(np.clip(q, 0, 255).astype(np.uint8)[None])


def preprocess_float(path, size=224, scale=1.0, mean=128.0, std=128.0):
    return to_float_nchw(central_crop(load_rgb(path), size), scale, mean, std)


def preprocess_uint8(path, size=224):
    return to_uint8_nhwc(central_crop(load_rgb(path), size))


def main(argv=None):
    ap = argparse.ArgumentParser(
        description="Central-crop ImageNet preprocessing; writes the float "
                    "NCHW input as an ONNX TensorProto.")
    ap.add_argument("photo")
    ap.add_argument("out", metavar="OUT.pb")
    ap.add_argument("--size", type=int, default=224)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--mean", type=float, default=128.0)
    ap.add_argument("--std", type=float, default=128.0)
    args = ap.parse_args(argv)
    if args.size <= 0:
        ap.error("--size must be positive")
    if args.std == 0:
        ap.error("--std must be nonzero")
    from onnx import numpy_helper
    try:
        x = preprocess_float(args.photo, args.size, args.scale, args.mean, args.std)
    except (OSError, ValueError) as e:
        print(f"imagenet_preprocess: {args.photo}: {e}", file=sys.stderr)
        return 1
    t = numpy_helper.from_array(x, name="input")
    with open(args.out, "wb") as f:
        f.write(t.SerializeToString())
    return 0


if __name__ == "__main__":
    sys.exit(main())
