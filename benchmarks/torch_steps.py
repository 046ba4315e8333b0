"""PyTorch eager: manual parameters, `loss.backward()`, SGD update under `torch.no_grad()` (or torch.optim.Adam).

Convolutions run in PyTorch's own layouts (NCHW images, OIHW filters: the
workload's HWIO filters are transposed once, at the start), with TF's SAME
padding spelled out; features are flattened in TF's NHWC order.
"""

import os

import numpy as np
import torch
import torch.nn.functional as F

import workloads

NAME = "PyTorch (eager)"
VERSION = torch.__version__

torch.set_num_threads(os.cpu_count())


class TorchTrainer:
    """Trains leaf tensors copied from the workload's parameters; `loss_of(params, batch)` is the forward pass."""

    def __init__(self, workload, loss_of, target_dtype, layouts=None):
        self.params = [torch.tensor(array if layouts is None else layouts(array), requires_grad=True)
                       for layer in workload.params for array in layer]
        self.learning_rate = workload.learning_rate
        self.adam = None
        if workload.optimizer == "adam":  # PyTorch adds epsilon after the bias correction: close to TF1's
            self.adam = torch.optim.Adam(self.params, lr=workload.learning_rate,
                                         betas=(workloads.ADAM_BETA1, workloads.ADAM_BETA2), eps=workloads.ADAM_EPSILON)
        self.loss_of = loss_of
        self.target_dtype = target_dtype

    def prepare(self, inputs, targets):
        inputs = torch.from_numpy(inputs)
        if inputs.dim() == 4:  # NHWC images -> NCHW
            inputs = inputs.permute(0, 3, 1, 2).contiguous()
        return inputs, torch.from_numpy(targets).to(self.target_dtype)

    def step(self, batch):
        self._train(batch)

    def step_with_loss(self, batch) -> float:
        return self._train(batch).item()

    def _train(self, batch):
        loss = self.loss_of(self.params, *batch)
        loss.backward()
        if self.adam is not None:
            self.adam.step()
            self.adam.zero_grad(set_to_none=True)
            return loss
        with torch.no_grad():
            for param in self.params:
                param.add_(param.grad, alpha=-self.learning_rate)
                param.grad = None
        return loss

    def wait(self):
        """Nothing to wait for: eager CPU operations are synchronous."""


def mlp_trainer(workload) -> TorchTrainer:
    return TorchTrainer(workload, _mlp_loss, torch.int64)


def cnn_trainer(workload) -> TorchTrainer:
    return TorchTrainer(workload, _cnn_loss, torch.int64,
                        layouts=lambda array: array.transpose(3, 2, 0, 1).copy() if array.ndim == 4 else array)


def lstm_trainer(workload) -> TorchTrainer:
    return TorchLstmTrainer(workload)


def tiny_trainer(workload) -> TorchTrainer:
    return TorchTrainer(workload, _tiny_loss, torch.float32)


def _mlp_loss(params, images, labels):
    """ReLU hidden layers, linear logits, mean cross-entropy against integer labels."""
    weights, biases = params[0::2], params[1::2]
    activations = images
    for layer_weights, layer_biases in zip(weights[:-1], biases[:-1]):
        activations = F.relu(torch.addmm(layer_biases, activations, layer_weights))
    logits = torch.addmm(biases[-1], activations, weights[-1])
    return F.cross_entropy(logits, labels)


def _cnn_loss(params, images, labels):
    """SAME ReLU convolutions, a 2x2/2 max-pool, then the dense layers of `_mlp_loss`."""
    activations = images
    convolutions = len(workloads.CNN_CONVOLUTIONS)
    for (kernel, _, stride), filters, biases in zip(workloads.CNN_CONVOLUTIONS, params[0:2 * convolutions:2],
                                                    params[1:2 * convolutions:2]):
        activations = F.relu(F.conv2d(_same_padding(activations, kernel, stride), filters, biases, stride=stride))
    pooled = F.max_pool2d(activations, 2, 2)
    features = pooled.permute(0, 2, 3, 1).reshape(pooled.shape[0], -1)  # TF's flattening order
    return _mlp_loss(params[2 * convolutions:], features, labels)


def _same_padding(images, kernel: int, stride: int):
    """TF's SAME padding of NCHW images: the odd pixel of padding goes after."""
    padding = []
    for size in (images.shape[3], images.shape[2]):
        total = max((-(-size // stride) - 1) * stride + kernel - size, 0)
        padding += [total // 2, total - total // 2]
    return F.pad(images, padding)


def _tiny_loss(params, x, y):
    """prediction = tanh(tanh(x @ W1 + b1) @ W2 + b2); mean squared error."""
    weights1, biases1, weights2, biases2 = params
    hidden = torch.tanh(torch.addmm(biases1, x, weights1))
    prediction = torch.tanh(torch.addmm(biases2, hidden, weights2))
    return F.mse_loss(prediction, y)


class TorchLstmTrainer(TorchTrainer):
    """torch.nn.LSTM over the rows (batch first), dense logits from the last h, torch.optim.Adam.

    The workload's TF kernel [input + hidden, 4 * hidden] (gates i, j, f, o) becomes nn.LSTM's
    weight_ih and weight_hh (gates i, f, g, o); TF's forget bias is added to bias_ih's f block, and
    bias_hh is zero and frozen (nn.LSTM adds both biases: training both would move the sum twice)."""

    def __init__(self, workload):
        (kernel, bias), (weights, biases) = workload.params
        units, inputs = workloads.LSTM_UNITS, workloads.LSTM_INPUTS
        self.lstm = torch.nn.LSTM(inputs, units, batch_first=True)
        i, j, f, o = (slice(k * units, (k + 1) * units) for k in range(4))
        order = [i, f, j, o]
        forget = torch.zeros(4 * units)
        forget[units:2 * units] = workloads.LSTM_FORGET_BIAS
        with torch.no_grad():
            self.lstm.weight_ih_l0.copy_(torch.from_numpy(np.concatenate([kernel[:inputs, s] for s in order], 1).T))
            self.lstm.weight_hh_l0.copy_(torch.from_numpy(np.concatenate([kernel[inputs:, s] for s in order], 1).T))
            self.lstm.bias_ih_l0.copy_(torch.from_numpy(np.concatenate([bias[s] for s in order])) + forget)
            self.lstm.bias_hh_l0.zero_()
        self.lstm.bias_hh_l0.requires_grad_(False)
        self.dense = [torch.tensor(weights, requires_grad=True), torch.tensor(biases, requires_grad=True)]
        self.params = [self.lstm.weight_ih_l0, self.lstm.weight_hh_l0, self.lstm.bias_ih_l0] + self.dense
        self.adam = torch.optim.Adam(self.params, lr=workload.learning_rate,
                                     betas=(workloads.ADAM_BETA1, workloads.ADAM_BETA2), eps=workloads.ADAM_EPSILON)
        self.loss_of = self._loss
        self.target_dtype = torch.int64

    def _loss(self, params, sequences, labels):
        _, (h, _) = self.lstm(sequences)
        return F.cross_entropy(torch.addmm(self.dense[1], h[0], self.dense[0]), labels)
