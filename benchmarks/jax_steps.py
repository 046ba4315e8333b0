"""JAX: the whole step (loss, gradients, SGD or TF1's Adam update) in one jitted function returning new state."""

import os

os.environ.setdefault("JAX_PLATFORMS", "cpu")

import jax  # noqa: E402 - JAX_PLATFORMS must be set before JAX starts
import jax.numpy as jnp  # noqa: E402
import jaxlib  # noqa: E402

import workloads  # noqa: E402

NAME = "JAX (jit)"
VERSION = f"{jax.__version__} (jaxlib {jaxlib.__version__})"


class JaxTrainer:
    """Keeps the parameters as device arrays and replaces them with the jitted step's result."""

    def __init__(self, workload, loss_of):
        params = jax.tree_util.tree_map(jnp.array, workload.params)  # copies: the step donates them
        learning_rate = workload.learning_rate
        if workload.optimizer == "adam":
            moments = [jax.tree_util.tree_map(jnp.zeros_like, params) for _ in range(2)]  # distinct: donated
            self.params = (params, *moments, jnp.zeros((), jnp.float32))
            update = _adam_update(learning_rate)
        else:
            self.params = params
            update = lambda params, gradients: jax.tree_util.tree_map(  # noqa: E731
                lambda param, gradient: param - learning_rate * gradient, params, gradients)

        def train_step(state, inputs, targets):
            params = state[0] if workload.optimizer == "adam" else state
            loss, gradients = jax.value_and_grad(loss_of)(params, inputs, targets)
            return update(state, gradients), loss

        self.train_step = jax.jit(train_step, donate_argnums=0)

    def prepare(self, inputs, targets):
        return jax.device_put(inputs), jax.device_put(targets)

    def step(self, batch):
        self.params, _ = self.train_step(self.params, *batch)

    def step_with_loss(self, batch) -> float:
        self.params, loss = self.train_step(self.params, *batch)
        return float(loss)

    def wait(self):
        """JAX dispatches asynchronously: block until the last step's parameters exist."""
        jax.block_until_ready(self.params)


def _adam_update(learning_rate):
    """TF1's Adam on (params, m, v, t): lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t)."""
    beta1, beta2, epsilon = workloads.ADAM_BETA1, workloads.ADAM_BETA2, workloads.ADAM_EPSILON

    def update(state, gradients):
        params, m, v, t = state
        t = t + 1
        lr_t = learning_rate * jnp.sqrt(1 - beta2 ** t) / (1 - beta1 ** t)
        m = jax.tree_util.tree_map(lambda m, g: beta1 * m + (1 - beta1) * g, m, gradients)
        v = jax.tree_util.tree_map(lambda v, g: beta2 * v + (1 - beta2) * g * g, v, gradients)
        params = jax.tree_util.tree_map(lambda p, m, v: p - lr_t * m / (jnp.sqrt(v) + epsilon), params, m, v)
        return params, m, v, t

    return update


def mlp_trainer(workload) -> JaxTrainer:
    return JaxTrainer(workload, _mlp_loss)


def cnn_trainer(workload) -> JaxTrainer:
    return JaxTrainer(workload, _cnn_loss)


def lstm_trainer(workload) -> JaxTrainer:
    return JaxTrainer(workload, _lstm_loss)


def tiny_trainer(workload) -> JaxTrainer:
    return JaxTrainer(workload, _tiny_loss)


def _mlp_loss(params, images, labels):
    """ReLU hidden layers, linear logits, mean softmax cross-entropy against integer labels."""
    activations = images
    for weights, biases in params[:-1]:
        activations = jax.nn.relu(activations @ weights + biases)
    weights, biases = params[-1]
    log_probabilities = jax.nn.log_softmax(activations @ weights + biases)
    return -jnp.mean(jnp.take_along_axis(log_probabilities, labels[:, None], axis=1))


def _cnn_loss(params, images, labels):
    """SAME ReLU convolutions (NHWC, HWIO: XLA pads SAME as TF), a 2x2/2 max-pool, the dense layers."""
    activations = images
    convolutions = len(workloads.CNN_CONVOLUTIONS)
    for (kernel, _, stride), (filters, biases) in zip(workloads.CNN_CONVOLUTIONS, params):
        activations = jax.nn.relu(jax.lax.conv_general_dilated(
            activations, filters, (stride, stride), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")) + biases)
    pooled = jax.lax.reduce_window(activations, -jnp.inf, jax.lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "VALID")
    return _mlp_loss(params[convolutions:], pooled.reshape(pooled.shape[0], -1), labels)


def _tiny_loss(params, x, y):
    """prediction = tanh(tanh(x @ W1 + b1) @ W2 + b2); mean squared error."""
    (weights1, biases1), (weights2, biases2) = params
    hidden = jnp.tanh(x @ weights1 + biases1)
    prediction = jnp.tanh(hidden @ weights2 + biases2)
    return jnp.mean(jnp.square(y - prediction))


def _lstm_loss(params, sequences, labels):
    """TF1's BasicLSTMCell (gates i, j, f, o; forget bias) by lax.scan over time, dense logits from the last h."""
    (kernel, bias), dense = params
    units = workloads.LSTM_UNITS

    def step(state, inputs):
        c, h = state
        i, j, f, o = jnp.split(jnp.concatenate([inputs, h], axis=1) @ kernel + bias, 4, axis=1)
        c = c * jax.nn.sigmoid(f + workloads.LSTM_FORGET_BIAS) + jax.nn.sigmoid(i) * jnp.tanh(j)
        return (c, jnp.tanh(c) * jax.nn.sigmoid(o)), None

    zeros = jnp.zeros((sequences.shape[0], units), sequences.dtype)
    (_, h), _ = jax.lax.scan(step, (zeros, zeros), jnp.swapaxes(sequences, 0, 1))
    return _mlp_loss([dense], h, labels)
