"""TF2 Keras compile / fit / evaluate / predict on a Sequential and a subclassed Model.

Runs unchanged under graphc (`import graphc.v2 as tf`) and TensorFlow 2 (argument `tensorflow`): the test
compares what both print (`tests/e2e/test_keras_v2_fit.py`). Both start from the same weights.
"""

import sys

import numpy as np

if len(sys.argv) > 1 and sys.argv[1] == "tensorflow":
    import tensorflow as tf
else:
    import graphc.v2 as tf

rng = np.random.default_rng(0)
x = rng.normal(size=(200, 8)).astype(np.float32)
y = (x[:, 0] + x[:, 1] > 0).astype(np.int32) + 2 * (x[:, 2] > 0.5).astype(np.int32)


class MLP(tf.keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = tf.keras.layers.Dense(16, activation=tf.nn.relu)
        self.out = tf.keras.layers.Dense(4)

    def call(self, inputs):
        return tf.nn.softmax(self.out(self.hidden(inputs)))


def rounded(values):
    return [round(float(v), 4) for v in values]


for name, model, optimizer, metric in [
        ("sequential", tf.keras.Sequential([tf.keras.layers.Dense(16, activation="relu"),
                                            tf.keras.layers.Dense(4, activation="softmax")]),
         tf.keras.optimizers.Adam(0.01), "accuracy"),
        ("subclassed", MLP(), tf.keras.optimizers.SGD(0.5, momentum=0.5),
         tf.keras.metrics.SparseCategoricalAccuracy())]:
    model(x[:1])
    model.set_weights([rng.uniform(-0.3, 0.3, w.shape).astype(np.float32) for w in model.get_weights()])
    model.compile(optimizer=optimizer, loss=tf.keras.losses.SparseCategoricalCrossentropy(), metrics=[metric])
    history = model.fit(x[:150], y[:150], batch_size=50, epochs=3, shuffle=False, verbose=0,
                        validation_data=(x[150:], y[150:]))
    print(name, {key: rounded(history.history[key]) for key in sorted(history.history)})
    print(name, "evaluate", rounded(model.evaluate(x, y, batch_size=64, verbose=0)))
    print(name, "predict", np.round(model.predict(x[:2], verbose=0).astype(float), 4).tolist())
