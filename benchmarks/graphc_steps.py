"""graphc: the TF1 program, placeholders fed at every `sess.run(train_op, feed_dict)`."""

import graphc as tf
import workloads

NAME = "graphc"
VERSION = tf.__version__


class GraphcTrainer:
    """A TF1 graph built by `build_loss(inputs, targets, variables)`, trained by TF1's SGD or Adam."""

    def __init__(self, workload, build_loss, input_dtype, target_dtype):
        self.graph = tf.Graph()
        with self.graph.as_default():
            first_inputs, first_targets = workload.batches[0]
            self.inputs = tf.placeholder(input_dtype, [None] + list(first_inputs.shape[1:]), name="inputs")
            self.targets = tf.placeholder(target_dtype, [None] + list(first_targets.shape[1:]), name="targets")
            variables = [(tf.Variable(weights), tf.Variable(biases)) for weights, biases in workload.params]
            self.loss = build_loss(self.inputs, self.targets, variables)
            if workload.optimizer == "adam":
                optimizer = tf.train.AdamOptimizer(workload.learning_rate, workloads.ADAM_BETA1, workloads.ADAM_BETA2,
                                                   workloads.ADAM_EPSILON)
            else:
                optimizer = tf.train.GradientDescentOptimizer(workload.learning_rate)
            self.train_op = optimizer.minimize(self.loss)
            self.session = tf.Session(graph=self.graph)
            self.session.run(tf.global_variables_initializer())

    def prepare(self, inputs, targets):
        """The feed dict of one batch."""
        return {self.inputs: inputs, self.targets: targets}

    def step(self, feed_dict):
        self.session.run(self.train_op, feed_dict)

    def step_with_loss(self, feed_dict) -> float:
        _, loss = self.session.run([self.train_op, self.loss], feed_dict)
        return float(loss)

    def wait(self):
        """Nothing to wait for: `sess.run` returns when the step is done."""


def mlp_trainer(workload) -> GraphcTrainer:
    return GraphcTrainer(workload, _mlp_loss, tf.float32, tf.int32)


def cnn_trainer(workload) -> GraphcTrainer:
    return GraphcTrainer(workload, _cnn_loss, tf.float32, tf.int32)


def lstm_trainer(workload) -> GraphcTrainer:
    return GraphcTrainer(workload, _lstm_loss, tf.float32, tf.int32)


def tiny_trainer(workload) -> GraphcTrainer:
    return GraphcTrainer(workload, _tiny_loss, tf.float32, tf.float32)


def _mlp_loss(images, labels, variables):
    """ReLU hidden layers, linear logits, mean sparse softmax cross-entropy."""
    activations = images
    for weights, biases in variables[:-1]:
        activations = tf.nn.relu(tf.matmul(activations, weights) + biases)
    weights, biases = variables[-1]
    logits = tf.matmul(activations, weights) + biases
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))


def _cnn_loss(images, labels, variables):
    """SAME ReLU convolutions, a 2x2/2 max-pool, then the dense layers of `_mlp_loss`."""
    activations = images
    for (kernel, _, stride), (filters, biases) in zip(workloads.CNN_CONVOLUTIONS, variables):
        activations = tf.nn.relu(tf.nn.conv2d(activations, filters, [1, stride, stride, 1], "SAME") + biases)
    pooled = tf.nn.max_pool(activations, [1, 2, 2, 1], [1, 2, 2, 1], "VALID")
    features = tf.reshape(pooled, [-1, workloads.CNN_POOLED_FEATURES])
    return _mlp_loss(features, labels, variables[len(workloads.CNN_CONVOLUTIONS):])


def _tiny_loss(x, y, variables):
    """prediction = tanh(tanh(x @ W1 + b1) @ W2 + b2); mean squared error."""
    (weights1, biases1), (weights2, biases2) = variables
    hidden = tf.nn.tanh(tf.matmul(x, weights1) + biases1)
    prediction = tf.nn.tanh(tf.matmul(hidden, weights2) + biases2)
    return tf.reduce_mean(tf.square(y - prediction))


class _GivenLSTMCell(tf.nn.rnn_cell.BasicLSTMCell):
    """TF1's BasicLSTMCell whose kernel and bias are the workload's variables (build uses them)."""

    def __init__(self, kernel, bias):
        super().__init__(workloads.LSTM_UNITS, forget_bias=workloads.LSTM_FORGET_BIAS)
        self._given = (kernel, bias)

    def build(self, inputs_shape):
        self.kernel, self.bias = self._given


def _lstm_loss(sequences, labels, variables):
    """tf.nn.dynamic_rnn over the rows, dense logits from the last h, mean sparse softmax cross-entropy."""
    (kernel, bias), (weights, biases) = variables
    _, state = tf.nn.dynamic_rnn(_GivenLSTMCell(kernel, bias), sequences, dtype=tf.float32)
    logits = tf.matmul(state.h, weights) + biases
    return tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
