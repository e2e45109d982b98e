#!/usr/bin/python3
"""PyTorch models exported to ONNX, with torch's own outputs, as references for the engine's ONNX tests.

Random weights from a fixed seed (nothing is downloaded); batch-norm statistics are random too, so that
folding them matters. Every model is exported in eval mode by torch.onnx.export.

  torch_reference.py export DIR
      For each model NAME: DIR/NAME.onnx, DIR/NAME.inputs.f32 (the test images, NHWC little-endian float32,
      as the engine reads them) and DIR/NAME.outputs.f64 (torch's outputs for them, float64). Also
      DIR/unsupported.onnx, a model with an operator the engine does not read.
  torch_reference.py cut DIR NAME PLAN.json LEVELS
      Model NAME (small_cnn or resnet8) cut down by hand to each level of PLAN (a `reds plan` response for
      its request): every layer keeps the units the plan orders first, in that order, and every layer reads
      the units its input keeps. Writes DIR/NAME.levelK.f64 for K in 1..LEVELS, the cut models' outputs for
      DIR/NAME.inputs.f32.
  torch_reference.py check FILE.onnx...
      onnx.checker (full check, with shape inference) on each file.

Exit status 77 when python3-torch or python3-onnx is missing (the tests skip).
"""
import json
import sys

try:
    import numpy as np
    import onnx
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
    import torchvision
except ImportError as error:
    print(f"torch_reference.py needs python3-torch, python3-torchvision and python3-onnx: {error}",
          file=sys.stderr)
    sys.exit(77)

IMAGES = 2


class SmallCnn(nn.Module):
    """Conv + BN + ReLU, a stride-2 conv with symmetric padding, a max pool and two Linear layers read
    after a Flatten of a 4x4 map (so the rows of fc1 must move from CHW to HWC)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(8)
        self.conv2 = nn.Conv2d(8, 16, 3, stride=2, padding=1)
        self.pool = nn.MaxPool2d(2)
        self.fc1 = nn.Linear(16 * 4 * 4, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        return self.fc2(F.relu(self.fc1(x)))


class BasicBlock(nn.Module):
    def __init__(self, inputs, outputs, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, outputs, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(outputs)
        self.conv2 = nn.Conv2d(outputs, outputs, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(outputs)
        self.shortcut = nn.Sequential()
        if stride != 1 or inputs != outputs:
            self.shortcut = nn.Sequential(nn.Conv2d(inputs, outputs, 1, stride, bias=False),
                                          nn.BatchNorm2d(outputs))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(y)) + self.shortcut(x))


class ResNet8(nn.Module):
    """MLPerf Tiny's ResNet-8 for CIFAR-10: a 16-filter stem, three basic blocks (16, 32, 64 filters)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 16, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.blocks = nn.Sequential(BasicBlock(16, 16, 1), BasicBlock(16, 32, 2), BasicBlock(32, 64, 2))
        self.fc = nn.Linear(64, 10)

    def forward(self, x):
        x = self.blocks(F.relu(self.bn(self.conv(x))))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


class EveryOp(nn.Module):
    """Every operator the reader supports: grouped, depthwise (with a multiplier), dilated and padded
    convolutions, a standalone BatchNorm (after an Add), ReLU6 (Clip), LeakyReLU, an average pool that counts
    its padding (Pad + AveragePool) and one that does not, MaxPool, Dropout, Identity, a Reshape that
    flattens, MatMul + Add, a BatchNorm1d after a Linear, Softmax."""

    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.grouped = nn.Conv2d(8, 8, 3, padding=1, groups=2)
        self.depthwise = nn.Conv2d(8, 16, 3, padding=2, dilation=2, groups=8)
        self.pointwise = nn.Conv2d(16, 8, 1)
        self.bn = nn.BatchNorm2d(8)
        self.relu6 = nn.ReLU6()
        self.leaky = nn.LeakyReLU(0.2)
        self.pool_counting = nn.AvgPool2d(3, 1, 1, count_include_pad=True)
        self.max = nn.MaxPool2d(3, 1, 1)
        self.pool_same = nn.AvgPool2d(3, 1, 1, count_include_pad=False)
        self.pool_valid = nn.AvgPool2d(4)
        self.dropout = nn.Dropout(0.5)
        self.identity = nn.Identity()
        self.weight = nn.Parameter(torch.randn(8 * 4 * 4, 24) * 0.1)
        self.bias = nn.Parameter(torch.randn(24) * 0.1)
        self.bn1d = nn.BatchNorm1d(24)
        self.head = nn.Linear(24, 5)

    def forward(self, x):
        x = self.relu6(self.stem(x))
        y = self.leaky(self.grouped(x))
        y = self.pointwise(self.depthwise(y))
        x = self.bn(x + y)
        x = self.max(self.pool_counting(F.relu(x)))
        x = self.identity(self.dropout(self.pool_valid(self.pool_same(x))))
        x = x.reshape(1, -1)
        x = F.relu(self.bn1d(torch.matmul(x, self.weight) + self.bias))
        return torch.softmax(self.head(x), dim=1)


# name: (constructor, input height and width, opset)
MODELS = {
    "small_cnn": (SmallCnn, 16, 11),
    "resnet8": (ResNet8, 32, 13),
    "resnet18": (lambda: torchvision.models.resnet18(weights=None), 64, 17),
    "mobilenet_v2": (lambda: torchvision.models.mobilenet_v2(weights=None), 96, 13),
    "every_op": (EveryOp, 16, 11),
}


def build(name):
    torch.manual_seed(20240611)
    model = MODELS[name][0]()
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 1.5)
                module.weight.uniform_(0.5, 1.5)
                module.bias.uniform_(-0.5, 0.5)
    return model.eval()


def images(name):
    size = MODELS[name][1]
    generator = torch.Generator().manual_seed(7)
    return torch.rand(IMAGES, 3, size, size, generator=generator) * 2 - 1


def nhwc_bytes(batch):
    return batch.permute(0, 2, 3, 1).contiguous().numpy().astype("<f4").tobytes()


def outputs(model, batch):
    """One image at a time: BatchNorm1d in eval mode and the Reshape to [1, -1] want batch 1."""
    with torch.no_grad():
        return np.concatenate([model(batch[i:i + 1]).double().numpy().ravel() for i in range(batch.shape[0])])


def export(directory):
    for name, (_, size, opset) in MODELS.items():
        model = build(name)
        batch = images(name)
        torch.onnx.export(model, batch[:1], f"{directory}/{name}.onnx", opset_version=opset,
                          input_names=["image"], output_names=["scores"])
        with open(f"{directory}/{name}.inputs.f32", "wb") as file:
            file.write(nhwc_bytes(batch))
        outputs(model, batch).astype("<f8").tofile(f"{directory}/{name}.outputs.f64")

    class Unsupported(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return torch.sigmoid(self.conv(x))

    torch.onnx.export(Unsupported().eval(), torch.zeros(1, 3, 8, 8), f"{directory}/unsupported.onnx",
                      opset_version=13)


def onnx_name(model, path):
    """The name torch.onnx.export gives the node of module `path`: a scope per module, where a child of a
    Sequential is scoped "<attribute>.<index>" (blocks.0.conv1 is /blocks/blocks.0/conv1/Conv)."""
    parts = path.split(".")
    scopes = [f"{parts[i - 1]}.{part}" if part.isdigit() else part for i, part in enumerate(parts)]
    operator = "Conv" if isinstance(model.get_submodule(path), nn.Conv2d) else "Gemm"
    return "/" + "/".join(scopes) + "/" + operator


def conv_cut(x, conv, bn, units, reads):
    """A convolution (and the batch norm after it) computing only `units` from the input channels `reads`."""
    bias = None if conv.bias is None else conv.bias[units]
    x = F.conv2d(x, conv.weight[units][:, reads], bias, stride=conv.stride, padding=conv.padding)
    if bn is None:
        return x
    return F.batch_norm(x, bn.running_mean[units], bn.running_var[units], bn.weight[units], bn.bias[units],
                        eps=bn.eps)


def small_cnn_cut(model, kept, x):
    c1, c2, f1, f2 = kept("conv1"), kept("conv2"), kept("fc1"), kept("fc2")
    # fc1 reads the flattened 16 x 4 x 4 map channel-major: channel c is features 16c .. 16c + 15.
    features = torch.cat([torch.arange(16 * c, 16 * c + 16) for c in c2.tolist()])
    x = F.relu(conv_cut(x, model.conv1, model.bn1, c1, torch.arange(3)))
    x = torch.flatten(F.max_pool2d(F.relu(conv_cut(x, model.conv2, None, c2, c1)), 2), 1)
    x = F.relu(F.linear(x, model.fc1.weight[f1][:, features], model.fc1.bias[f1]))
    return F.linear(x, model.fc2.weight[f2][:, f1], model.fc2.bias[f2])


def resnet8_cut(model, kept, x):
    """The operands of every addition must keep the same units in the same order (one stream); a
    projection shortcut reads the units its block's input keeps."""
    stream = kept("conv")
    x = F.relu(conv_cut(x, model.conv, model.bn, stream, torch.arange(3)))
    for index, block in enumerate(model.blocks):
        inner, output = kept(f"blocks.{index}.conv1"), kept(f"blocks.{index}.conv2")
        y = F.relu(conv_cut(x, block.conv1, block.bn1, inner, stream))
        y = conv_cut(y, block.conv2, block.bn2, output, inner)
        if len(block.shortcut):
            shortcut = kept(f"blocks.{index}.shortcut.0")
            x = conv_cut(x, block.shortcut[0], block.shortcut[1], shortcut, stream)
        else:
            shortcut = stream
        if not torch.equal(output, shortcut):
            sys.exit(f"block {index} adds different units: {output.tolist()} and {shortcut.tolist()}")
        x, stream = F.relu(y + x), output
    x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
    scores = kept("fc")
    return F.linear(x, model.fc.weight[scores][:, stream], model.fc.bias[scores])


CUTS = {"small_cnn": small_cnn_cut, "resnet8": resnet8_cut}


def cut(directory, name, plan_path, levels):
    """Model `name` with every layer narrowed by hand to a level's kept units."""
    with open(plan_path) as file:
        plan = json.load(file)
    model = build(name)
    batch = images(name)
    order = {layer: torch.tensor(units) for layer, units in plan["order"].items()}
    for level in range(levels):
        widths = plan["levels"][level]["widths"]

        def kept(path):
            layer = onnx_name(model, path)
            return order[layer][:widths[layer]]

        with torch.no_grad():
            results = [CUTS[name](model, kept, batch[i:i + 1]).double().numpy().ravel()
                       for i in range(batch.shape[0])]
        np.concatenate(results).astype("<f8").tofile(f"{directory}/{name}.level{level + 1}.f64")


def check(paths):
    for path in paths:
        model = onnx.load(path)
        onnx.checker.check_model(model, full_check=True)
        print(path, "opset", model.opset_import[0].version, "input", model.graph.input[0].name, "output",
              model.graph.output[0].name)


if __name__ == "__main__":
    command = sys.argv[1]
    if command == "export":
        export(sys.argv[2])
    elif command == "cut":
        cut(sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5]))
    elif command == "check":
        check(sys.argv[2:])
    else:
        sys.exit(f"unknown command {command}")
