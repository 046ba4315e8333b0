"""`tf.train.export_meta_graph`, `tf.train.import_meta_graph` and `tf.train.write_graph`: `.meta` files both ways.

A `.meta` file is a serialized MetaGraphDef: the graph as TensorFlow's
NodeDefs, its collections, and the Saver's SaverDef with its save subgraph.
graphc writes one TensorFlow's `import_meta_graph` reads and runs
(`meta_graph_export`), and reads those TensorFlow wrote for graphs of the ops
graphc has (`meta_graph_import`). Needs the `tensorboard` extra (its protobuf
classes).
"""

from __future__ import annotations

import os

from graphc import errors
from graphc.core.protos import protos
from graphc.frontend.graph import Graph, get_default_graph
from graphc.train import meta_graph_export, meta_graph_import
from graphc.train.saver import Saver


def export_meta_graph(filename=None, meta_info_def=None, graph_def=None, saver_def=None, collection_list=None,
                      as_text=False, graph=None, export_scope=None, clear_devices=False,
                      clear_extraneous_savers=False, strip_default_attrs=False, save_debug_info=False, saver=None,
                      **kwargs):
    """`tf.train.export_meta_graph`: the MetaGraphDef of `graph` (default: the default graph), written to
    `filename` when given (binary, or text with `as_text`).

    graphc's Saver adds no ops to the graph, so a SaverDef and its save subgraph
    are written for `saver` (graphc's argument; `Saver.export_meta_graph` and
    `Saver.save` pass it); `saver_def`, `graph_def` and `export_scope` are not
    supported (UnimplementedError). ValueError listing the op types
    TensorFlow has no op for, if the graph has any.
    """
    for name, value in (("saver_def", saver_def), ("graph_def", graph_def), ("export_scope", export_scope)):
        if value is not None:
            raise errors.UnimplementedError(None, None, f"export_meta_graph({name}=...) is not supported by graphc: "
                                                        f"pass the graph (and saver=) instead")
    graph = graph if graph is not None else get_default_graph()
    meta = meta_graph_export.meta_graph_def(graph, saver, collection_list, clear_devices)
    if meta_info_def is not None:
        meta.meta_info_def.MergeFrom(meta_info_def)
    if filename is not None:
        meta_graph_export.write(os.fspath(filename), meta, as_text)
    return meta


def read_meta_graph_file(filename):
    """The MetaGraphDef in `filename` (binary or text). OSError if there is none, DataLossError naming the file
    if it parses as neither."""
    filename = os.fspath(filename)
    if not os.path.isfile(filename):
        raise OSError(f"File {filename} does not exist.")
    with open(filename, "rb") as file:
        data = file.read()
    from google.protobuf import message, text_format  # noqa: PLC0415  protobuf comes with tensorboard
    meta = protos().meta_graph_pb2.MetaGraphDef()
    try:
        meta.ParseFromString(data)
        return meta
    except message.DecodeError as binary_error:
        try:  # TF reads the text format too
            text_format.Merge(data.decode("utf-8"), meta)
            return meta
        except (text_format.ParseError, UnicodeDecodeError):
            raise errors.DataLossError(None, None, f"Cannot parse the MetaGraphDef file {filename}: it is damaged or "
                                                   f"not a MetaGraphDef ({binary_error})") from None


def import_meta_graph(meta_graph_or_file, clear_devices=False, import_scope=None, **kwargs):
    """`tf.train.import_meta_graph`: adds the graph and collections of a MetaGraphDef (a `.meta` file or
    the proto) to the default graph; returns a Saver that restores its variables, or None if it has none.

    TensorFlow-written files import when graphc has every op type they use
    (else UnimplementedError listing those it lacks). A damaged file is a
    DataLossError naming it; on any error the graph is left as it was.
    """
    if isinstance(meta_graph_or_file, (str, os.PathLike)):
        source = os.fspath(meta_graph_or_file)
        meta = read_meta_graph_file(source)
    else:
        source, meta = "(a MetaGraphDef proto)", meta_graph_or_file
    graph = get_default_graph()
    arguments = meta_graph_import.import_into(graph, meta, source, clear_devices, import_scope)
    return None if arguments is None else Saver(**arguments)


def write_graph(graph_or_graph_def, logdir, name, as_text=True):
    """`tf.train.write_graph` / `tf.io.write_graph`: writes a Graph's GraphDef (or a GraphDef) to `logdir/name`,
    as text by default; returns the path. The directory is created if missing."""
    graph_def = graph_or_graph_def.as_graph_def() if isinstance(graph_or_graph_def, Graph) else graph_or_graph_def
    logdir = os.fspath(logdir)
    os.makedirs(logdir, exist_ok=True)
    path = os.path.join(logdir, name)
    meta_graph_export.write(path, graph_def, as_text)
    return path
