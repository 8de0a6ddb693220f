"""Reads a trainbus model checkpoint (kernels/nn/checkpoint.cc, version 1 or
2; 2 adds batch norm's running statistics as more tensors)
into PyTorch: the weights the peer serves are the very bytes our server
loads, not a re-export.

Only dense architectures (softmax, mlp) are rebuilt: their tensors are
fc[N].weight (out, in) and fc[N].bias (out), the layout of nn.Linear. A
checkpoint of a spec with avg=... also holds the averaged weights
("<name>/average"), which are what trainbus serves; those are used then.
"""
import re
import struct

import torch
import torch.nn as nn

MAGIC = b"TBNNCKPT"


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def read_checkpoint(path):
    """-> (spec text, {tensor name: float32 tensor}) in checkpoint order."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != MAGIC:
        raise ValueError(f"{path} is not a trainbus checkpoint (no TBNNCKPT magic)")
    body, (stored,) = data[:-8], struct.unpack("<Q", data[-8:])
    if fnv1a64(body) != stored:
        raise ValueError(f"{path}: checksum mismatch (truncated or modified)")
    pos = 8
    version, spec_len = struct.unpack_from("<II", body, pos)
    pos += 8
    if version not in (1, 2):
        raise ValueError(f"{path}: checkpoint version {version}; this reads 1 and 2")
    spec = body[pos:pos + spec_len].decode()
    pos += spec_len
    _steps, count = struct.unpack_from("<QI", body, pos)
    pos += 12
    table = []
    for _ in range(count):
        (name_len,) = struct.unpack_from("<I", body, pos)
        pos += 4
        name = body[pos:pos + name_len].decode()
        pos += name_len
        (rank,) = struct.unpack_from("<I", body, pos)
        pos += 4
        dims = struct.unpack_from(f"<{rank}I", body, pos)
        pos += 4 * rank
        table.append((name, dims))
    tensors = {}
    for name, dims in table:
        n = 1
        for d in dims:
            n *= d
        values = torch.frombuffer(bytearray(body[pos:pos + 4 * n]), dtype=torch.float32)
        tensors[name] = values.reshape(dims)
        pos += 4 * n
    if pos != len(body):
        raise ValueError(f"{path}: {len(body) - pos} bytes after the weights")
    return spec, tensors


def load_model(path):
    """The checkpoint as an eval-mode nn.Sequential ending in softmax."""
    spec, tensors = read_checkpoint(path)
    dense = sorted((n for n in tensors if re.fullmatch(r"fc\d*\.weight", n)),
                   key=lambda n: int(n[2:-7] or 0))
    if not dense or any("conv" in n or ".bn_" in n for n in tensors):
        raise ValueError(f"model '{spec}': the peer rebuilds softmax and mlp "
                         "without batch norm only")
    averaged = any(n.endswith("/average") for n in tensors)
    layers = []
    for i, name in enumerate(dense):
        base = name[:-len(".weight")]
        w = tensors[f"{base}.weight/average" if averaged else f"{base}.weight"]
        b = tensors[f"{base}.bias/average" if averaged else f"{base}.bias"]
        linear = nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            linear.weight.copy_(w)
            linear.bias.copy_(b)
        layers.append(linear)
        if i + 1 < len(dense):
            layers.append(nn.ReLU())
    layers.append(nn.Softmax(dim=1))
    return spec, nn.Sequential(*layers).eval()
