"""graphc.keras: models build TF1 graphs, train and predict through compiled steps."""

import numpy as np
import pytest

import graphc as tf
from graphc import keras


@pytest.fixture(autouse=True)
def fresh_layer_names():
    keras.backend.clear_session()


def _blobs(count=600, seed=0):
    """Three separable Gaussian blobs in 4 dimensions."""
    rng = np.random.RandomState(seed)
    labels = rng.randint(0, 3, count)
    centres = np.array([[2, 0, 0, 1], [0, 2, 0, -1], [0, 0, 2, 0]], dtype=np.float32)
    return (centres[labels] + 0.5 * rng.randn(count, 4)).astype(np.float32), labels.astype(np.uint8)


def _forward(weights, x):
    """NumPy: relu dense then softmax dense."""
    w1, b1, w2, b2 = weights
    logits = np.maximum(x @ w1 + b1, 0) @ w2 + b2
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def test_sequential_trains_and_its_outputs_match_numpy():
    tf.set_random_seed(1)
    np.random.seed(1)
    x, y = _blobs()
    model = keras.Sequential([keras.layers.Dense(16, activation="relu", input_shape=(4,)),
                              keras.layers.Dense(3, activation="softmax")])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=32, epochs=5, verbose=0, validation_data=(x[:100], y[:100]))
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert len(history.history["loss"]) == 5 and history.epoch == [0, 1, 2, 3, 4]
    assert history.history["loss"][-1] < history.history["loss"][0]
    assert history.history["accuracy"][-1] > 0.9
    assert [w.name for w in model.weights] == ["dense/kernel:0", "dense/bias:0", "dense_1/kernel:0", "dense_1/bias:0"]

    predictions = model.predict(x, batch_size=64)
    expected = _forward(model.get_weights(), x)
    np.testing.assert_allclose(predictions, expected, rtol=1e-4, atol=1e-6)

    loss, accuracy = model.evaluate(x, y, batch_size=100, verbose=0)
    picked = expected[np.arange(len(y)), y]
    assert loss == pytest.approx(float(np.mean(-np.log(picked))), rel=1e-4)
    assert accuracy == pytest.approx(float(np.mean(expected.argmax(axis=1) == y)))


def test_one_training_step_is_sgd_on_the_mean_loss():
    x, y = _blobs(count=8)
    model = keras.Sequential([keras.layers.Dense(3, input_shape=(4,))])
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.predict(x)  # builds the weights
    w, b = model.get_weights()
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    logits = x @ w + b
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    p[np.arange(8), y] -= 1
    new_w, new_b = model.get_weights()
    np.testing.assert_allclose(new_w, w - 0.5 * x.T @ p / 8, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(new_b, b - 0.5 * p.sum(axis=0) / 8, rtol=1e-5, atol=1e-6)


class _TwoLayers(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = keras.layers.Dense(8, activation="tanh")
        self.out = keras.layers.Dense(1)

    def call(self, inputs):
        return self.out(self.hidden(inputs))


def test_subclassed_model_tracks_its_layers_and_fits_mean_squared_error():
    tf.set_random_seed(2)
    rng = np.random.RandomState(2)
    x = rng.uniform(-1, 1, (256, 2)).astype(np.float32)
    y = (x[:, :1] * 0.5 - x[:, 1:] * 0.25).astype(np.float32)
    model = _TwoLayers()
    model.compile(optimizer="sgd", loss="mse", metrics=["mse"])
    first = model.evaluate(x, y, verbose=0)
    model.fit(x, y, batch_size=16, epochs=20, verbose=0)
    last = model.evaluate(x, y, verbose=0)
    assert model.name == "private__two_layers"  # what Keras names it too
    assert [layer.name for layer in model.layers] == ["dense", "dense_1"]
    assert len(model.trainable_variables) == 4
    assert last[0] < 0.2 * first[0]
    assert last[0] == pytest.approx(last[1], rel=1e-5)  # the loss and the metric are the same quantity


def test_from_logits_and_softmax_outputs_give_the_same_loss():
    x, y = _blobs(count=50)
    logits_model = keras.Sequential([keras.layers.Dense(3, input_shape=(4,))])
    logits_model.compile("sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    softmax_model = keras.Sequential([keras.layers.Dense(3, activation="softmax", input_shape=(4,))])
    softmax_model.compile("sgd", "sparse_categorical_crossentropy")
    logits_model.predict(x[:1])
    softmax_model.predict(x[:1])
    softmax_model.set_weights(logits_model.get_weights())
    assert softmax_model.evaluate(x, y, verbose=0) == pytest.approx(logits_model.evaluate(x, y, verbose=0), rel=1e-5)


def test_metric_on_its_own_runs_compiled_and_accumulates():
    metric = keras.metrics.SparseCategoricalAccuracy()
    metric.update_state([1, 2, 0], [[0.1, 0.8, 0.1], [0.7, 0.2, 0.1], [0.5, 0.3, 0.2]])
    assert metric.result() == pytest.approx(2 / 3)
    metric.update_state(np.array([[2]]), np.array([[0.0, 0.1, 0.9]]))
    assert metric.result() == pytest.approx(3 / 4)
    metric.reset_state()
    assert metric.result() == 0.0
    # Weighted: the mean of hits weighted by sample_weight, as Keras computes it.
    metric.update_state([1, 2, 0], [[0.1, 0.8, 0.1], [0.7, 0.2, 0.1], [0.5, 0.3, 0.2]], sample_weight=[1.0, 3.0, 0.5])
    assert metric.result() == pytest.approx(1.5 / 4.5)


def test_mistakes_get_keras_errors():
    x, y = _blobs(count=20)
    model = keras.Sequential([keras.layers.Dense(3, input_shape=(4,))])
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(x, y, verbose=0)
    model.compile("sgd", "sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="cardinality"):
        model.fit(x, y[:10], verbose=0)
    model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match="incompatible"):
        model.predict(np.zeros((2, 5), np.float32))
    with pytest.raises(ValueError, match="Unknown loss"):
        model.compile("sgd", "hinge-ish")
    with pytest.raises(ValueError, match="Unknown activation"):
        keras.layers.Dense(3, activation="swishy")


def test_layer_names_are_keras_snake_case():
    assert keras.backend.snake_case("MaxPooling2D") == "max_pooling2d"
    assert keras.backend.snake_case("Dense") == "dense"
    assert [keras.layers.Dense(1).name for _ in range(3)] == ["dense", "dense_1", "dense_2"]


def test_sequential_applies_dropout_in_its_training_pass_only():
    tf.set_random_seed(4)
    x, y = _blobs(count=64)
    model = keras.Sequential([keras.layers.Dense(3, input_shape=(4,)),
                              keras.layers.Dropout(0.5)])
    model.compile(keras.optimizers.SGD(0.0), keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    inference_losses = [model.evaluate(x, y, verbose=0) for _ in range(2)]
    training_losses = [model.fit(x, y, batch_size=64, verbose=0).history["loss"][0] for _ in range(2)]
    assert inference_losses[0] == inference_losses[1]  # no dropout: the weights do not move (rate 0)
    assert len({inference_losses[0], *training_losses}) == 3  # a fresh mask each training step


def test_dropout_drops_while_training_only():
    layer = keras.layers.Dropout(0.5, seed=3)
    x = tf.constant(np.ones((4, 1000), np.float32))
    training, inference = layer(x, training=True), layer(x)
    with tf.Session() as sess:
        dropped, kept = sess.run([training, inference])
    np.testing.assert_array_equal(kept, np.ones((4, 1000)))
    assert set(np.unique(dropped)) <= {0.0, 2.0}
    assert 0.45 < np.mean(dropped == 0) < 0.55


def test_small_cnn_trains_with_adam():
    tf.set_random_seed(6)
    np.random.seed(6)
    rng = np.random.RandomState(6)
    labels = rng.randint(0, 2, 200)
    images = rng.rand(200, 8, 8, 1).astype(np.float32) * 0.2
    images[labels == 1, 2:6, 3:5, 0] += 1.0  # class 1 has a bright vertical bar
    model = keras.Sequential([keras.layers.Conv2D(4, 3, padding="same", activation="relu", input_shape=(8, 8, 1)),
                              keras.layers.MaxPooling2D(),
                              keras.layers.Flatten(),
                              keras.layers.Dense(2)])
    model.compile(keras.optimizers.Adam(0.01), keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    history = model.fit(images, labels, batch_size=20, epochs=5, verbose=0)
    assert [(w.name, w.shape.as_list()) for w in model.weights] == [
        ("conv2d/kernel:0", [3, 3, 1, 4]), ("conv2d/bias:0", [4]), ("dense/kernel:0", [64, 2]), ("dense/bias:0", [2])]
    assert history.history["accuracy"][-1] > 0.95


@pytest.mark.parametrize("steps_per_execution", [3, 4])
def test_steps_per_execution_trains_and_logs_as_one_batch_a_call(steps_per_execution):
    """N batches per native call: the same weights, logged loss and accuracy and evaluation, bit for bit,
    as one batch a call (10 batches of 8 and a last one of 3: executions of N, the rest, the partial one)."""
    x, y = _blobs(count=83)
    results = []
    for per_execution in (1, steps_per_execution):
        tf.reset_default_graph()
        tf.set_random_seed(5)
        model = keras.Sequential([keras.layers.Dense(6, activation="relu", input_shape=(4,)),
                                  keras.layers.Dense(3)])
        model.compile(optimizer=keras.optimizers.Adam(0.01),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"],
                      steps_per_execution=per_execution)
        np.random.seed(0)  # the same shuffles
        history = model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        results.append((model.get_weights(), history.history, model.evaluate(x, y, batch_size=8, verbose=0)))
    (weights, history, evaluation), (weights_n, history_n, evaluation_n) = results
    for a, b in zip(weights, weights_n):
        np.testing.assert_array_equal(a, b)
    assert history == history_n and evaluation == evaluation_n
    assert history["loss"][1] < history["loss"][0]


def test_steps_per_execution_must_be_a_positive_int():
    model = keras.Sequential([keras.layers.Dense(3, input_shape=(4,))])
    with pytest.raises(ValueError, match="steps_per_execution"):
        model.compile(optimizer="sgd", loss="mse", steps_per_execution=0)
    with pytest.raises(TypeError, match="steps_per_execution"):
        model.compile(optimizer="sgd", loss="mse", steps_per_execution=2.5)
