"""A character-level language model (char-rnn) in TF1, unmodified but for `import graphc as tf`.

The text is generated here, no download: sentences from a small grammar ("the quick fox sees a
lazy dog."), so the model has structure to learn and a known floor. Characters go through
tf.nn.embedding_lookup into a two-layer LSTM (MultiRNNCell) run by tf.nn.dynamic_rnn over windows
of `--seq_length` characters; a dense layer gives the next character's logits; Adam. It prints the
loss (nats per character) as it trains, then a sample: the same cells run one character at a time
from a fed state (a second graph reusing the variables), greedily.
"""
import argparse

import numpy as np

import graphc as tf

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--steps", type=int, default=300)
parser.add_argument("--seq_length", type=int, default=40)
parser.add_argument("--batch_size", type=int, default=32)
parser.add_argument("--hidden", type=int, default=128)
parser.add_argument("--seed", type=int, default=0)
args = parser.parse_args()

rng = np.random.RandomState(args.seed)
tf.set_random_seed(args.seed)


def make_text(n_sentences):
    """Sentences of the grammar: article adjective? noun verb article adjective? noun."""
    articles, adjectives = ["the", "a"], ["quick", "lazy", "brown", "small", "old"]
    nouns, verbs = ["fox", "dog", "cat", "bird", "horse"], ["sees", "chases", "likes", "follows"]

    def phrase():
        words = [rng.choice(articles)]
        if rng.rand() < 0.6:
            words.append(rng.choice(adjectives))
        return words + [rng.choice(nouns)]

    return " ".join(" ".join(phrase() + [rng.choice(verbs)] + phrase()) + "." for _ in range(n_sentences))


text = make_text(4000)
chars = sorted(set(text))
vocab_size = len(chars)
encoded = np.array([chars.index(c) for c in text], dtype=np.int32)


def batches():
    while True:
        starts = rng.randint(0, len(encoded) - args.seq_length - 1, args.batch_size)
        windows = np.stack([encoded[s:s + args.seq_length + 1] for s in starts])
        yield windows[:, :-1], windows[:, 1:]


def model(inputs, initial_state=None):
    """Logits [batch, time, vocab] and the final state of the two-layer LSTM over `inputs` (ids)."""
    embedding = tf.get_variable("embedding", [vocab_size, 32])
    embedded = tf.nn.embedding_lookup(embedding, inputs)
    cell = tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.BasicLSTMCell(args.hidden) for _ in range(2)])
    outputs, state = tf.nn.dynamic_rnn(cell, embedded, initial_state=initial_state, dtype=tf.float32)
    return tf.layers.dense(outputs, vocab_size, name="softmax"), state, cell


inputs = tf.placeholder(tf.int32, [None, args.seq_length])
targets = tf.placeholder(tf.int32, [None, args.seq_length])
with tf.variable_scope("model"):
    logits, _, cell = model(inputs)
loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=targets, logits=logits))
train_op = tf.train.AdamOptimizer(0.005).minimize(loss)

# Sampling: one character at a time, the state fed back in.
sample_input = tf.placeholder(tf.int32, [1, 1])
sample_state = tuple(tf.nn.rnn_cell.LSTMStateTuple(tf.placeholder(tf.float32, [1, args.hidden]),
                                                   tf.placeholder(tf.float32, [1, args.hidden])) for _ in range(2))
with tf.variable_scope("model", reuse=True):
    sample_logits, sample_next_state, _ = model(sample_input, sample_state)

with tf.Session() as sess:
    sess.run(tf.global_variables_initializer())
    data = batches()
    for step in range(1, args.steps + 1):
        x, y = next(data)
        value, _ = sess.run([loss, train_op], {inputs: x, targets: y})
        if step % 100 == 0 or step == 1:
            print(f"step {step}: loss {value:.3f}")
    state = [np.zeros((1, args.hidden), np.float32)] * 4
    current, sample = chars.index("t"), "t"
    for _ in range(120):
        feeds = {sample_input: [[current]]}
        feeds.update(zip([t for s in sample_state for t in s], state))
        out, next_state = sess.run([sample_logits, sample_next_state], feeds)
        state = [a for s in next_state for a in s]
        current = int(np.argmax(out[0, -1]))
        sample += chars[current]
    print("sample:", sample)
