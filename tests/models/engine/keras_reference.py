#!/usr/bin/python3
"""The outputs of a Keras HDF5 model computed with NumPy alone, as a reference for the engine's tests.

Independent of the engine: reads the architecture (`model_config`) and the weights with h5py, runs the
functional graph in its `inbound_nodes` order in float64, with batch normalization applied as Keras does at
inference (moving statistics, the config's epsilon), not folded.

  keras_reference.py MODEL.h5 IMAGES.f32 COUNT

IMAGES.f32 holds COUNT images in NHWC order as little-endian float32, already scaled as the model expects.
Prints every image's outputs, one value per line (repr, full precision), image after image.
"""
import json
import sys

import h5py
import numpy as np


def weights_of(group, layer):
    if layer not in group:
        return {}
    node = group[layer]
    names = [n.decode() if isinstance(n, bytes) else n for n in node.attrs.get("weight_names", [])]
    # "conv2d/kernel:0" -> "kernel"
    return {name.split("/")[-1].split(":")[0]: np.asarray(node[name], dtype=np.float64) for name in names}


def pair(value):
    return (value, value) if isinstance(value, int) else tuple(value)


def pad_same(x, kernel, stride):
    """Keras 'same': the total padding split with the extra pixel at the bottom/right."""
    pads = []
    for axis, (k, s) in enumerate(zip(kernel, stride)):
        size = x.shape[axis]
        out = -(-size // s)
        total = max((out - 1) * s + k - size, 0)
        pads.append((total // 2, total - total // 2))
    return np.pad(x, (pads[0], pads[1], (0, 0)))


def windows(x, kernel, stride, padding):
    """Yields (tap_row, tap_column, the input pixels that tap sees for every output pixel)."""
    if padding == "same":
        x = pad_same(x, kernel, stride)
    out_h = (x.shape[0] - kernel[0]) // stride[0] + 1
    out_w = (x.shape[1] - kernel[1]) // stride[1] + 1
    for i in range(kernel[0]):
        for j in range(kernel[1]):
            rows = slice(i, i + stride[0] * (out_h - 1) + 1, stride[0])
            columns = slice(j, j + stride[1] * (out_w - 1) + 1, stride[1])
            yield i, j, x[rows, columns]


def conv2d(x, config, w):
    kernel, stride = pair(config["kernel_size"]), pair(config["strides"])
    if pair(config.get("dilation_rate", 1)) != (1, 1) or config.get("groups", 1) != 1:
        raise SystemExit("dilation and groups are not implemented")
    y = sum(np.tensordot(patch, w["kernel"][i, j], axes=([2], [0]))
            for i, j, patch in windows(x, kernel, stride, config["padding"]))
    return y + w["bias"] if config.get("use_bias", True) else y


def depthwise_conv2d(x, config, w):
    kernel, stride = pair(config["kernel_size"]), pair(config["strides"])
    if config.get("depth_multiplier", 1) != 1:
        raise SystemExit("depth multipliers above 1 are not implemented")
    taps = windows(x, kernel, stride, config["padding"])
    y = sum(patch * w["depthwise_kernel"][i, j, :, 0] for i, j, patch in taps)
    return y + w["bias"] if config.get("use_bias", True) else y


def average_pool2d(x, config):
    kernel = pair(config["pool_size"])
    stride = pair(config["strides"] or config["pool_size"])
    if config["padding"] != "valid":
        raise SystemExit("'same' average pooling is not implemented")
    taps = [patch for _, _, patch in windows(x, kernel, stride, "valid")]
    return sum(taps) / len(taps)


def activation(x, name):
    if name == "linear":
        return x
    if name == "relu":
        return np.maximum(x, 0.0)
    if name == "softmax":
        e = np.exp(x - x.max(axis=-1, keepdims=True))
        return e / e.sum(axis=-1, keepdims=True)
    raise SystemExit(f"activation {name} is not implemented")


def run_layer(kind, config, w, inputs):
    x = inputs[0]
    if kind == "Conv2D":
        return activation(conv2d(x, config, w), config.get("activation", "linear"))
    if kind == "DepthwiseConv2D":
        return activation(depthwise_conv2d(x, config, w), config.get("activation", "linear"))
    if kind == "Dense":
        y = x @ w["kernel"] + (w["bias"] if config.get("use_bias", True) else 0.0)
        return activation(y, config.get("activation", "linear"))
    if kind == "BatchNormalization":
        scale = w.get("gamma", 1.0) / np.sqrt(w["moving_variance"] + config["epsilon"])
        return (x - w["moving_mean"]) * scale + w.get("beta", 0.0)
    if kind == "Activation":
        return activation(x, config["activation"])
    if kind == "ReLU":
        return np.maximum(x, 0.0)
    if kind == "Add":
        return sum(inputs)
    if kind == "ZeroPadding2D":
        (top, bottom), (left, right) = config["padding"]  # Keras stores ((top, bottom), (left, right))
        return np.pad(x, ((top, bottom), (left, right), (0, 0)))
    if kind == "AveragePooling2D":
        return average_pool2d(x, config)
    if kind == "GlobalAveragePooling2D":
        return x.mean(axis=(0, 1))
    if kind == "Flatten":
        return x.reshape(-1)
    if kind == "Dropout":
        return x
    if kind == "Softmax":
        return activation(x, "softmax")
    raise SystemExit(f"layer class {kind} is not implemented")


def main():
    path, images_path, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with h5py.File(path, "r") as model:
        config = json.loads(model.attrs["model_config"])
        layers = config["config"]["layers"]
        weights = {layer["config"]["name"]: weights_of(model["model_weights"], layer["config"]["name"])
                   for layer in layers}
    shape = layers[0]["config"]["batch_input_shape"][1:]
    images = np.fromfile(images_path, dtype="<f4").astype(np.float64).reshape([count] + shape)
    output = config["config"]["output_layers"][0][0]
    for image in images:
        tensors = {}
        # Keras lists a functional model's layers so that every layer comes after the layers it reads.
        for layer in layers:
            name = layer["config"]["name"]
            if layer["class_name"] == "InputLayer":
                tensors[name] = image
                continue
            inbound = [node[0] for node in layer["inbound_nodes"][0]]
            tensors[name] = run_layer(layer["class_name"], layer["config"], weights[name],
                                      [tensors[source] for source in inbound])
        for value in np.asarray(tensors[output]).reshape(-1):
            print(repr(float(value)))


if __name__ == "__main__":
    main()
