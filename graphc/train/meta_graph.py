"""`tf.train.import_meta_graph` and `export_meta_graph`: not supported yet, and saying so.

A `.meta` file is a MetaGraphDef: the whole graph as TensorFlow's NodeDefs,
its collections and the Saver's own save/restore ops. graphc's GraphDef export
is for TensorBoard's view (constants summarised, attributes partial) and
graphc has no importer of TensorFlow's NodeDefs, so neither direction can be
done faithfully; each raises UnimplementedError with the way around it.
"""

from __future__ import annotations

from graphc import errors

_WAY_AROUND = ("build the graph with the same Python code, then restore its variables from the checkpoint with "
               "tf.train.Saver().restore(sess, prefix) (TensorFlow's checkpoint format is read and written)")


def import_meta_graph(meta_graph_or_file, clear_devices=False, import_scope=None, **kwargs):
    """`tf.train.import_meta_graph`: raises UnimplementedError; graphc cannot read MetaGraphDefs yet."""
    raise errors.UnimplementedError(None, None, f"graphc cannot import the MetaGraphDef {meta_graph_or_file!r:.200} "
                                                f"(tf.train.import_meta_graph is not implemented): {_WAY_AROUND}")


def export_meta_graph(filename=None, **kwargs):
    """`tf.train.export_meta_graph`: raises UnimplementedError; graphc cannot write MetaGraphDefs yet."""
    raise errors.UnimplementedError(None, None, f"graphc cannot export a MetaGraphDef to {filename!r:.200} "
                                                f"(tf.train.export_meta_graph is not implemented): {_WAY_AROUND}")
