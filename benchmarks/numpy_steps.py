"""NumPy: forward and backward written out with `@`, parameters updated in place."""

import numpy as np

NAME = "NumPy"
VERSION = np.__version__


class NumpyTrainer:
    """Owns copies of the parameters; `gradients(batch)` gives (loss, [(dW, db), ...]) for them."""

    def __init__(self, workload, gradients):
        self.params = [(weights.copy(), biases.copy()) for weights, biases in workload.params]
        self.learning_rate = np.float32(workload.learning_rate)
        self.gradients = gradients

    def prepare(self, inputs, targets):
        return inputs, targets

    def step(self, batch):
        self.step_with_loss(batch)

    def step_with_loss(self, batch) -> float:
        loss, gradients = self.gradients(self.params, *batch)
        for (weights, biases), (weights_gradient, biases_gradient) in zip(self.params, gradients):
            weights -= self.learning_rate * weights_gradient
            biases -= self.learning_rate * biases_gradient
        return float(loss)

    def wait(self):
        """Nothing to wait for: NumPy computes eagerly."""


def mlp_trainer(workload) -> NumpyTrainer:
    return NumpyTrainer(workload, _mlp_gradients)


def tiny_trainer(workload) -> NumpyTrainer:
    return NumpyTrainer(workload, _tiny_gradients)


def _mlp_gradients(params, images, labels):
    """Loss and gradients of the ReLU MLP with mean sparse softmax cross-entropy."""
    activations = [images]
    for weights, biases in params[:-1]:
        activations.append(np.maximum(activations[-1] @ weights + biases, 0))
    weights, biases = params[-1]
    logits = activations[-1] @ weights + biases
    rows = np.arange(len(labels))
    shifted = logits - logits.max(axis=1, keepdims=True)
    exponentials = np.exp(shifted)
    sums = exponentials.sum(axis=1, keepdims=True)
    loss = np.mean(np.log(sums[:, 0]) - shifted[rows, labels])
    output_gradient = exponentials / sums  # softmax
    output_gradient[rows, labels] -= 1
    output_gradient /= len(labels)
    gradients = []
    for layer in reversed(range(len(params))):
        layer_input = activations[layer]
        gradients.append((layer_input.T @ output_gradient, output_gradient.sum(axis=0)))
        if layer:
            output_gradient = (output_gradient @ params[layer][0].T) * (layer_input > 0)
    return loss, gradients[::-1]


def _tiny_gradients(params, x, y):
    """Loss and gradients of prediction = tanh(tanh(x @ W1 + b1) @ W2 + b2) with mean squared error."""
    (weights1, biases1), (weights2, biases2) = params
    hidden = np.tanh(x @ weights1 + biases1)
    prediction = np.tanh(hidden @ weights2 + biases2)
    error = prediction - y
    loss = np.mean(np.square(error))
    output_gradient = (np.float32(2.0 / error.size) * error) * (1 - np.square(prediction))
    hidden_gradient = (output_gradient @ weights2.T) * (1 - np.square(hidden))
    return loss, [(x.T @ hidden_gradient, hidden_gradient.sum(axis=0, keepdims=True)),
                  (hidden.T @ output_gradient, output_gradient.sum(axis=0, keepdims=True))]
