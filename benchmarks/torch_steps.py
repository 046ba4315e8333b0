"""PyTorch eager: manual parameters, `loss.backward()`, SGD update under `torch.no_grad()`."""

import os

import torch
import torch.nn.functional as F

NAME = "PyTorch (eager)"
VERSION = torch.__version__

torch.set_num_threads(os.cpu_count())


class TorchTrainer:
    """Trains leaf tensors copied from the workload's parameters; `loss_of(params, batch)` is the forward pass."""

    def __init__(self, workload, loss_of, target_dtype):
        self.params = [torch.tensor(array, requires_grad=True)
                       for layer in workload.params for array in layer]
        self.learning_rate = workload.learning_rate
        self.loss_of = loss_of
        self.target_dtype = target_dtype

    def prepare(self, inputs, targets):
        return torch.from_numpy(inputs), torch.from_numpy(targets).to(self.target_dtype)

    def step(self, batch):
        self._train(batch)

    def step_with_loss(self, batch) -> float:
        return self._train(batch).item()

    def _train(self, batch):
        loss = self.loss_of(self.params, *batch)
        loss.backward()
        with torch.no_grad():
            for param in self.params:
                param.add_(param.grad, alpha=-self.learning_rate)
                param.grad = None
        return loss

    def wait(self):
        """Nothing to wait for: eager CPU operations are synchronous."""


def mlp_trainer(workload) -> TorchTrainer:
    return TorchTrainer(workload, _mlp_loss, torch.int64)


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


def _tiny_loss(params, x, y):
    """prediction = tanh(tanh(x @ W1 + b1) @ W2 + b2); mean squared error."""
    weights1, biases1, weights2, biases2 = params
    hidden = torch.tanh(torch.addmm(biases1, x, weights1))
    prediction = torch.tanh(torch.addmm(biases2, hidden, weights2))
    return F.mse_loss(prediction, y)
