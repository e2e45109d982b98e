#!/usr/bin/python3
"""PyTorch models exported to ONNX, with torch's own outputs, as references for the engine's ONNX tests.

Random weights from a fixed seed (nothing is downloaded); batch-norm statistics are random too, so that
folding them matters. Every model is exported in eval mode by torch.onnx.export.

  torch_reference.py export DIR
      For each model NAME: DIR/NAME.onnx, DIR/NAME.inputs.f32 (the test images, NHWC little-endian float32,
      as the engine reads them) and DIR/NAME.outputs.f64 (torch's outputs for them, float64). Also
      DIR/small_cnn_any_batch.onnx, small_cnn with a symbolic batch size (its inputs and outputs are
      small_cnn's), DIR/unsupported.onnx, a model with an operator the engine does not read, and
      DIR/hand_written.onnx (with its inputs and outputs): what torch never writes (auto_pad, Identity and
      Dropout nodes). DIR/operators.txt: the operators these models hold (but unsupported.onnx), one a line.
  torch_reference.py cut DIR NAME PLAN.json LEVELS
      Model NAME (small_cnn, resnet8, resnet18 or mobilenet_v2) cut down by hand to each level of PLAN (a
      `reds plan` response for its request): every layer keeps the units the plan orders first, in that
      order, and every layer reads the units its input keeps; batch norms keep their convolution's units.
      Writes DIR/NAME.levelK.f64 for K in 1..LEVELS, the cut models' outputs for DIR/NAME.inputs.f32.
  torch_reference.py check FILE.onnx...
      onnx.checker (full check, with shape inference) on each file; prints its opset and its input's and
      output's names.

Exit status 77 when python3-torch or python3-onnx is missing (the tests skip).
"""
import json
import math
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
# The same network at the other opsets torch writes: up to 10, Clip takes min and max as attributes and Pad
# its pads, from 11 on both take them as inputs; at 7 and 8 a Cast makes the Reshape's shape int64.
MODELS.update({f"every_op_opset{opset}": (EveryOp, 16, opset)
               for opset in (7, 8, 9, 10, 12, 13, 14, 15, 16, 17)})


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
        if name.startswith("every_op"):
            expect_clip_form(f"{directory}/{name}.onnx", opset)
    # As users export for runtimes that batch: the batch axis symbolic (the engine runs one image at a time).
    torch.onnx.export(build("small_cnn"), images("small_cnn")[:1], f"{directory}/small_cnn_any_batch.onnx",
                      opset_version=MODELS["small_cnn"][2], input_names=["image"], output_names=["scores"],
                      dynamic_axes={"image": {0: "batch"}, "scores": {0: "batch"}})

    class Unsupported(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)

        def forward(self, x):
            return torch.sigmoid(self.conv(x))

    torch.onnx.export(Unsupported().eval(), torch.zeros(1, 3, 8, 8), f"{directory}/unsupported.onnx",
                      opset_version=13)
    export_hand_written(directory)
    written = set()
    for name in list(MODELS) + ["hand_written"]:
        written.update(node.op_type for node in onnx.load(f"{directory}/{name}.onnx").graph.node)
    with open(f"{directory}/operators.txt", "w") as file:
        file.write("".join(f"{operator}\n" for operator in sorted(written)))


def expect_clip_form(path, opset):
    """Fails unless the file states ReLU6's limits as the opset does (so that both forms are read)."""
    clips = [node for node in onnx.load(path).graph.node if node.op_type == "Clip"]
    as_attributes = [sorted(attribute.name for attribute in node.attribute) == ["max", "min"]
                     for node in clips]
    if not clips or any(as_attributes) != (opset < 11) or len(set(as_attributes)) != 1:
        sys.exit(f"{path}: expected Clip with its limits as {'attributes' if opset < 11 else 'inputs'}")


def same_pads(size, kernel, stride, dilation, auto_pad):
    """ONNX's padding for auto_pad SAME_UPPER (the odd pixel after) or SAME_LOWER (before) on one axis."""
    out = -(-size // stride)
    total = max((out - 1) * stride + (kernel - 1) * dilation + 1 - size, 0)
    return (total // 2, total - total // 2) if auto_pad == "SAME_UPPER" else (total - total // 2, total // 2)


def padding(x, kernel, stride, dilation, auto_pad, value=0.0):
    """x padded as ONNX pads it for a window of `kernel` (torch's F.pad: left, right, top, bottom)."""
    top, bottom = same_pads(x.shape[2], kernel, stride, dilation, auto_pad)
    left, right = same_pads(x.shape[3], kernel, stride, dilation, auto_pad)
    return F.pad(x, (left, right, top, bottom), value=value)


def export_hand_written(directory):
    """What torch never writes, in a graph built with onnx.helper on a 13 x 16 input (an odd and an even
    side): auto_pad (Conv SAME_UPPER with stride 2, Keras' 'same'; dilated Conv SAME_UPPER; Conv SAME_LOWER,
    the odd pixel before: zero padding; MaxPool SAME_LOWER after a ReLU; AveragePool SAME_UPPER without
    counting the padding; Conv VALID), and Identity and Dropout nodes (torch leaves them out of models
    exported for inference), then GlobalAveragePool, Flatten, Gemm. The reference is torch computing the
    same with the padding spelled out."""
    from onnx import TensorProto, helper, numpy_helper

    generator = torch.Generator().manual_seed(11)
    weights = {
        "w1": torch.randn(8, 3, 3, 3, generator=generator) * 0.3, "b1": torch.randn(8, generator=generator),
        "w2": torch.randn(8, 8, 3, 3, generator=generator) * 0.2, "b2": torch.randn(8, generator=generator),
        "w3": torch.randn(6, 8, 2, 2, generator=generator) * 0.3, "b3": torch.randn(6, generator=generator),
        "w4": torch.randn(4, 6, 3, 3, generator=generator) * 0.3,
        "fc": torch.randn(5, 4, generator=generator), "fc_bias": torch.randn(5, generator=generator),
    }
    nodes = [
        helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], "conv_same_upper", kernel_shape=[3, 3],
                         strides=[2, 2], auto_pad="SAME_UPPER"),
        helper.make_node("Relu", ["c1"], ["r0"], "relu1"),
        helper.make_node("Identity", ["r0"], ["r1"], "identity"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], "conv_dilated", kernel_shape=[3, 3],
                         dilations=[2, 2], auto_pad="SAME_UPPER"),
        helper.make_node("Conv", ["c2", "w3", "b3"], ["c3"], "conv_same_lower", kernel_shape=[2, 2],
                         auto_pad="SAME_LOWER"),
        helper.make_node("Relu", ["c3"], ["r3"], "relu3"),
        helper.make_node("MaxPool", ["r3"], ["p1"], "max_same_lower", kernel_shape=[2, 2], strides=[2, 2],
                         auto_pad="SAME_LOWER"),
        helper.make_node("AveragePool", ["p1"], ["p2"], "average_same_upper", kernel_shape=[3, 3],
                         auto_pad="SAME_UPPER", count_include_pad=0),
        helper.make_node("Conv", ["p2", "w4"], ["c4"], "conv_valid", kernel_shape=[3, 3], auto_pad="VALID"),
        helper.make_node("Dropout", ["c4"], ["d", "mask"], "dropout"),
        helper.make_node("GlobalAveragePool", ["d"], ["g"], "pool"),
        helper.make_node("Flatten", ["g"], ["f"], "flatten"),
        helper.make_node("Gemm", ["f", "fc", "fc_bias"], ["scores"], "dense", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "hand_written", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 3, 13, 16])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 5])],
        [numpy_helper.from_array(value.numpy(), name) for name, value in weights.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, f"{directory}/hand_written.onnx")

    w = weights
    batch = torch.rand(IMAGES, 3, 13, 16, generator=generator) * 2 - 1
    x = F.relu(F.conv2d(padding(batch, 3, 2, 1, "SAME_UPPER"), w["w1"], w["b1"], stride=2))
    x = F.conv2d(padding(x, 3, 1, 2, "SAME_UPPER"), w["w2"], w["b2"], dilation=2)
    x = F.relu(F.conv2d(padding(x, 2, 1, 1, "SAME_LOWER"), w["w3"], w["b3"]))
    x = F.max_pool2d(padding(x, 2, 2, 1, "SAME_LOWER", -math.inf), 2, 2)
    # Without counting the padding: the sum over each window divided by its pixels inside the map.
    total = F.avg_pool2d(padding(x, 3, 1, 1, "SAME_UPPER"), 3, 1, divisor_override=1)
    inside = F.avg_pool2d(padding(torch.ones_like(x), 3, 1, 1, "SAME_UPPER"), 3, 1, divisor_override=1)
    x = F.conv2d(total / inside, w["w4"])
    scores = F.linear(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1), w["fc"], w["fc_bias"])
    with open(f"{directory}/hand_written.inputs.f32", "wb") as file:
        file.write(nhwc_bytes(batch))
    scores.double().numpy().ravel().astype("<f8").tofile(f"{directory}/hand_written.outputs.f64")


def onnx_name(model, path):
    """The name torch.onnx.export gives the node of module `path`: a scope per module, where a child of a
    Sequential is scoped "<its parent's scope>.<index>" (blocks.0.conv1 is /blocks/blocks.0/conv1/Conv,
    features.1.conv.0.0 is /features/features.1/conv/conv.0/conv.0.0/Conv)."""
    scopes = []
    for part in path.split("."):
        scopes.append(f"{scopes[-1]}.{part}" if part.isdigit() else part)
    operator = "Conv" if isinstance(model.get_submodule(path), nn.Conv2d) else "Gemm"
    return "/" + "/".join(scopes) + "/" + operator


def conv_cut(x, conv, bn, units, reads):
    """A convolution (and the batch norm after it) computing only `units` from the input channels `reads`.
    A depthwise convolution filters each kept channel on its own: its units are the channels it reads."""
    if conv.groups == 1:
        weight = conv.weight[units][:, reads]
    elif conv.groups == conv.in_channels == conv.out_channels:
        if not torch.equal(units, reads):
            sys.exit(f"a depthwise convolution keeps {units.tolist()} of input channels {reads.tolist()}")
        weight = conv.weight[units]
    else:
        sys.exit(f"a convolution of {conv.groups} groups cannot be cut")
    bias = None if conv.bias is None else conv.bias[units]
    x = F.conv2d(x, weight, bias, stride=conv.stride, padding=conv.padding, dilation=conv.dilation,
                 groups=conv.groups if conv.groups == 1 else len(units))
    if bn is None:
        return x
    return F.batch_norm(x, bn.running_mean[units], bn.running_var[units], bn.weight[units], bn.bias[units],
                        eps=bn.eps)


def dense_cut(linear, units, reads, x):
    return F.linear(x, linear.weight[units][:, reads], linear.bias[units])


def small_cnn_cut(model, kept, x):
    c1, c2, f1, f2 = kept("conv1"), kept("conv2"), kept("fc1"), kept("fc2")
    # fc1 reads the flattened 16 x 4 x 4 map channel-major: channel c is features 16c .. 16c + 15.
    features = torch.cat([torch.arange(16 * c, 16 * c + 16) for c in c2.tolist()])
    x = F.relu(conv_cut(x, model.conv1, model.bn1, c1, torch.arange(3)))
    x = torch.flatten(F.max_pool2d(F.relu(conv_cut(x, model.conv2, None, c2, c1)), 2), 1)
    x = F.relu(dense_cut(model.fc1, f1, features, x))
    return dense_cut(model.fc2, f2, f1, x)


def added_units(index, output, shortcut):
    """The operands of an addition must keep the same units in the same order (one stream)."""
    if not torch.equal(output, shortcut):
        sys.exit(f"block {index} adds different units: {output.tolist()} and {shortcut.tolist()}")
    return output


def basic_block_cut(model, kept, path, projection, x, stream):
    """A ResNet basic block cut to its kept units, reading the units `stream` of its input; `projection` is
    the attribute of its shortcut (a 1x1 convolution and a batch norm when it projects). A projection reads
    the units its block's input keeps. Returns the block's output and the units it keeps."""
    block = model.get_submodule(path)
    inner, output = kept(f"{path}.conv1"), kept(f"{path}.conv2")
    y = F.relu(conv_cut(x, block.conv1, block.bn1, inner, stream))
    y = conv_cut(y, block.conv2, block.bn2, output, inner)
    shortcut_module = getattr(block, projection)
    shortcut = stream
    if shortcut_module is not None and len(shortcut_module):
        shortcut = kept(f"{path}.{projection}.0")
        x = conv_cut(x, shortcut_module[0], shortcut_module[1], shortcut, stream)
    return F.relu(y + x), added_units(path, output, shortcut)


def resnet8_cut(model, kept, x):
    stream = kept("conv")
    x = F.relu(conv_cut(x, model.conv, model.bn, stream, torch.arange(3)))
    for index in range(len(model.blocks)):
        x, stream = basic_block_cut(model, kept, f"blocks.{index}", "shortcut", x, stream)
    x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
    return dense_cut(model.fc, kept("fc"), stream, x)


def resnet18_cut(model, kept, x):
    """torchvision's ResNet-18: a 7x7 stem, a max pool, four stages of two basic blocks."""
    stream = kept("conv1")
    x = model.maxpool(F.relu(conv_cut(x, model.conv1, model.bn1, stream, torch.arange(3))))
    for stage in range(1, 5):
        for index in range(len(getattr(model, f"layer{stage}"))):
            x, stream = basic_block_cut(model, kept, f"layer{stage}.{index}", "downsample", x, stream)
    x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
    return dense_cut(model.fc, kept("fc"), stream, x)


def mobilenet_v2_cut(model, kept, x):
    """torchvision's MobileNetV2: a stem, 17 inverted residual blocks (1x1 expansion but in the first, a
    depthwise 3x3 on the expanded channels, a linear 1x1 projection; an addition when the block keeps its
    shape), a 1x1 convolution to 1280 channels and the classifier (Dropout, Linear)."""
    def relu6(y):
        return torch.clamp(y, 0.0, 6.0)

    stem = model.features[0]
    stream = kept("features.0.0")
    x = relu6(conv_cut(x, stem[0], stem[1], stream, torch.arange(3)))
    for index in range(1, len(model.features) - 1):
        block = model.features[index]
        layers = block.conv
        path = f"features.{index}.conv"
        if len(layers) == 4:
            expanded = kept(f"{path}.0.0")
            y = relu6(conv_cut(x, layers[0][0], layers[0][1], expanded, stream))
        else:
            expanded, y = stream, x
        depthwise = layers[-3]
        y = relu6(conv_cut(y, depthwise[0], depthwise[1], expanded, expanded))
        output = kept(f"{path}.{len(layers) - 2}")
        y = conv_cut(y, layers[-2], layers[-1], output, expanded)
        if block.use_res_connect:
            x, stream = x + y, added_units(index, output, stream)
        else:
            x, stream = y, output
    last = model.features[-1]
    units = kept(f"features.{len(model.features) - 1}.0")
    x = relu6(conv_cut(x, last[0], last[1], units, stream))
    x = torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)
    return dense_cut(model.classifier[1], kept("classifier.1"), units, x)


CUTS = {"small_cnn": small_cnn_cut, "resnet8": resnet8_cut, "resnet18": resnet18_cut,
        "mobilenet_v2": mobilenet_v2_cut}


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
