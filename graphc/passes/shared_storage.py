"""Values that live inside another value's buffer, for plan_memory: views, pieces and in-place results.

Four registry facts let a value take (part of) another's buffer instead of an
arena entry of its own, so that no kernel copies it and fewer bytes are live:

- `OpDef.view`: a reshape, or a slice of whole trailing rows, is a contiguous
  run of its operand's bytes; its result is that run, and the step runs no
  kernel for it (a view of a whole feed, a CNN's input reshaped to images, is
  the caller's array: no step writes a feed);
- `OpDef.pieces`: a concat of flat tensors is its operands' bytes one after
  another; each operand is then computed straight into its place in the
  result (whose arena entry spans them all), and the step runs no kernel for
  the concat. This is Horovod's fused gradient buffer without the copy: the
  gradient kernels write into it, the allreduce reduces it in place, and the
  update reads its slices (views) of it;
- `OpDef.in_place`: a result computed in its operand's buffer (a TensorArray's
  row write, an allreduce) when nothing reads that buffer afterwards;
- `OpDef.row_view`: a row read at a run-time index, in a loop body, of a value
  captured from outside the loop (that nothing in the loop writes: the param's
  only users are row reads) is that row of the captured buffer, at an address
  the step computes from the index when it runs (`MemoryPlan.rows`). Its kernel
  still runs, to check the index, and copies nothing. The index's arena entry
  then lives as long as the view, whose users' addresses need it;
- a loop body's value stashed for the gradient (a `while`'s outputs after its
  carried and saved ones, one row per iteration) is computed straight into the
  row of the current iteration (`MemoryPlan.rows`, index None) when it is the
  whole of a buffer of its own, defined in the body and yielded once: the loop
  copies no stash;
- a loop variable's next value (a body result yielded as a carried variable),
  computed in the loop variable's own buffer when nothing reads the variable
  after the kernel computing it, but elementwise ops of that kernel before it
  (a gradient accumulator's `acc + dW`, an LSTM's next c from c): the loop copies
  no next value into its variable;
- `OpDef.epilogue_in_place`: a fused GEMM's or convolution's epilogue value
  of the product's shape and element size (its bias + ReLU) computed in the
  product's buffer, or the product in a fetched value's output buffer, when
  nothing after the kernel reads the product. The epilogue reads each
  element of the product once, before it writes that element of its value,
  and never reads it again; the kernel then sees the two as one buffer (one
  pointer-table entry and one alias scope, both keyed by address:
  backend/kernel_signatures.py). A 10,000-image evaluation's first
  convolution then needs 1 GB of arena, not 2.

Only an instruction that is a kernel of its own (opaque) is made a view or a
concat of pieces: a fused kernel would compute its result anyway. A value is
placed inside another at most once, and only where it has an arena entry of
its own; `Storage.inside` records (container, byte offset), which plan_memory
resolves to an arena offset once the containers are placed. The arena entry of
a container grows to span the lifetimes of everything inside it, so the first
fit never gives those bytes to another value while any of them is live; an
in-place result may overwrite a buffer only when every value inside it is dead.
"""

from __future__ import annotations

from graphc.core import registry
from graphc.core.registry import FusionClass
from graphc.ir.facts import fusion_of, is_elementwise


class Storage:
    """The arena entries (start, end, bytes, key) of plan_memory, and which values live inside which."""

    def __init__(self, arena_values: list, last_use: dict):
        self.entries = arena_values
        self.last_use = last_use
        self.index = {entry[3]: n for n, entry in enumerate(arena_values) if isinstance(entry[3], int)}
        self.inside: dict = {}     # value id -> (id of the value whose buffer holds it, byte offset in that buffer)
        self.elided: set = set()   # results already in place: the step runs no kernel for them
        # The last use of anything in a buffer that views or pieces share (None: only in-place results do,
        # and the operand's own last use decides, as a loop's TensorArray writes need).
        self.shared_until: dict = {}
        self.rows: dict = {}       # value id -> its row index Value, or None (MemoryPlan.rows)

    def root(self, value_id: int) -> tuple:
        """(the value whose buffer holds `value_id`, the byte offset in it)."""
        offset = 0
        while value_id in self.inside:
            value_id, extra = self.inside[value_id]
            offset += extra
        return value_id, offset

    def put_inside(self, value_id: int, container: int, offset: int, shares: bool) -> None:
        """`value_id` (and whatever is inside it) now lives at `offset` in `container`'s buffer; the
        container's arena entry spans its lifetime. `shares`: the two are read side by side afterwards
        (a view, a piece), so neither may be overwritten in place while the other is live."""
        own = self.index.pop(value_id, None)
        root, _ = self.root(container)
        if own is not None:
            start, end, _, _ = self.entries[own]
            self.entries[own] = None
            if root in self.index:
                n = self.index[root]
                root_start, root_end, nbytes, key = self.entries[n]
                self.entries[n] = (min(start, root_start), max(end, root_end), nbytes, key)
        self.inside[value_id] = (container, offset)
        if shares or root in self.shared_until or value_id in self.shared_until:
            self.shared_until[root] = max(self.shared_until.get(root, -1), self.shared_until.pop(value_id, -1),
                                          self.last_use.get(value_id, -1), self.last_use.get(root, -1))

    def outlive(self, value_id: int, position: int) -> None:
        """`value_id`'s arena entry (and its last use, for the in-place results after it) lasts at least until
        `position`."""
        self.last_use[value_id] = max(self.last_use.get(value_id, position), position)
        n = self.index[value_id]
        start, end, nbytes, key = self.entries[n]
        self.entries[n] = (start, max(end, position), nbytes, key)

    def in_a_row(self, value_id: int) -> bool:
        """Whether `value_id` is, or lives inside, a value whose address the step computes (`rows`): no
        other value is placed inside those, whose plan has static offsets only."""
        while value_id not in self.rows:
            if value_id not in self.inside:
                return False
            value_id = self.inside[value_id][0]
        return True

    def holds_others(self, value_id: int) -> bool:
        """Whether another value lives inside `value_id`'s buffer."""
        return any(self.root(inner)[0] == value_id for inner in self.inside)

    def finish(self) -> None:
        """Drops the entries of the values placed inside others."""
        self.entries[:] = [entry for entry in self.entries if entry is not None]


def share_storage(instructions, kinds: list, arena_values: list, aliases: dict, last_use: dict,
                  outputs: set, captures: set) -> Storage:
    """Places views, pieces and in-place results inside their operands' buffers (the module docstring).
    `kinds`: each kernel's kind; `outputs`: ids of values in a fetch's output buffer; `captures`: ids of
    the loop bodies' params that are values captured from outside (not loop variables)."""
    storage = Storage(arena_values, last_use)
    defined_plainly = {inst.result.id for inst in instructions if inst.result is not None and not inst.regions}
    feeds = {inst.result.id for inst in instructions if inst.op == "feed"}
    row_views = _row_view_captures(instructions, captures)
    # A region's param has its operand's static address (plan_memory's aliases): a value a loop or cond
    # takes in stays out of rows.
    taken_in = {v.id for inst in instructions if inst.regions for v in inst.values}
    products, kernel_end = {}, {}  # kernel -> its product an epilogue value may overwrite; its last position
    kernel_start: dict = {}
    for i, inst in enumerate(instructions):
        if inst.kernel is not None:
            kernel_end[inst.kernel] = i
            kernel_start.setdefault(inst.kernel, i)
            if registry.get(inst.op).epilogue_in_place and fusion_of(inst) is FusionClass.ANCHOR:
                products[inst.kernel] = inst.result
    next_values = _next_values(instructions)
    users: dict = {}
    for i, inst in enumerate(instructions):
        for value in list(inst.values) + [v for region in inst.regions for v in region.results]:
            users.setdefault(value.id, []).append(i)
    for i, inst in enumerate(instructions):
        if inst.result is None:
            continue
        if inst.result.id in next_values and inst.kernel is not None and _next_value_in_place(
                storage, i, inst, (kernel_start[inst.kernel], kernel_end[inst.kernel]), next_values[inst.result.id],
                users, instructions):
            continue
        if products.get(inst.kernel) is not None and is_elementwise(inst):
            if _epilogue_in_place(storage, kernel_end[inst.kernel], inst, products[inst.kernel], aliases, outputs):
                products[inst.kernel] = None  # one value per product
                continue
        if inst.result.id not in storage.index:
            continue
        op = registry.get(inst.op)
        alone = inst.kernel is not None and kinds[inst.kernel] == "opaque"
        if alone and op.view is not None:
            _view(storage, inst, op.view(inst), feeds)
        elif alone and op.pieces is not None:
            _pieces(storage, inst, op.pieces(inst), defined_plainly)
        elif alone and op.row_view and inst.values[0].id in row_views and inst.result.id not in taken_in:
            _row_view(storage, inst, aliases, feeds)
        elif op.in_place is not None:
            _in_place(storage, i, inst, inst.operands[op.in_place].id, aliases, outputs)
    for inst in instructions:
        if len(inst.regions) == 2 and "carried" in inst.attrs:
            _stashes_in_rows(storage, inst, taken_in)
    storage.finish()
    return storage


def _next_values(instructions) -> dict:
    """{id of a loop body's result yielded once as carried variable j: (the body's param j, the loop's
    output j, whose buffer holds variable j)}, where the two have one type."""
    found = {}
    for loop in instructions:
        if len(loop.regions) != 2 or "carried" not in loop.attrs:
            continue
        body = loop.regions[1]
        params = {inst.attrs["index"]: inst.result for inst in body.instructions if inst.op == "param"}
        yielded = [v.id for v in body.results]
        for j, value in enumerate(body.results[:loop.attrs["carried"]]):
            param = params.get(j)
            if param is not None and yielded.count(value.id) == 1 and value.type == param.type:
                found[value.id] = (param, loop.outputs[j])
    return found


def _next_value_in_place(storage: Storage, position: int, inst, kernel: tuple, carried: tuple, users: dict,
                         instructions) -> bool:
    """The loop variable's next value computed in the variable's buffer (the module docstring): every read
    of the variable is in an earlier kernel, or in this one by an elementwise op of its shape (element i
    read where element i is written) no later than `inst`. Returns whether it is."""
    param, variable = carried
    value = inst.result.id
    if value not in storage.index or variable.id not in storage.index or storage.holds_others(variable.id):
        return False
    start, _ = kernel
    for user in users.get(param.id, []):
        if user < start:
            continue
        reader = instructions[user]
        if reader.kernel != inst.kernel or user > position or not is_elementwise(reader) or \
                reader.result.type.shape != param.type.shape:
            return False
    storage.put_inside(value, variable.id, 0, shares=False)
    return True


def _row_view_captures(instructions, captures: set) -> set:
    """The captured params that only row reads use: nothing in their loop writes their buffer."""
    used_otherwise = set()
    for inst in instructions:
        uses = inst.values if not registry.get(inst.op).row_view else inst.values[1:]
        used_otherwise.update(v.id for v in uses)
        for region in inst.regions:
            used_otherwise.update(v.id for v in region.results)
    return captures - used_otherwise


def _row_view(storage: Storage, inst, aliases: dict, feeds: set) -> None:
    """The row read's result is the row of the captured buffer (the module docstring)."""
    rows, index = inst.values
    if index.id not in storage.index:
        return  # the index must stay in memory, for the addresses of the view's users
    container = rows.id
    while container in aliases:
        container = aliases[container]
    if storage.in_a_row(container):
        return  # a row of a row: the plan's addresses have one run-time index at most
    root = storage.root(container)[0]
    if root not in storage.index and root not in feeds:
        return
    storage.outlive(index.id, storage.last_use.get(inst.result.id, 0))
    storage.put_inside(inst.result.id, container, 0, shares=True)
    storage.rows[inst.result.id] = index


def _stashes_in_rows(storage: Storage, loop, taken_in: set) -> None:
    """Each value the loop's body stashes, computed in its row of the stash buffer (the module docstring)."""
    carried, saved = loop.attrs["carried"], loop.attrs.get("saved", ())
    body = loop.regions[1]
    defined = {inst.result.id for inst in body.instructions if inst.result is not None and inst.op != "param"}
    yielded = [v.id for v in body.results]
    for value, history in zip(body.results[carried:], loop.outputs[carried + len(saved):]):
        if (value.id in defined and yielded.count(value.id) == 1 and value.id not in taken_in
                and value.id in storage.index and history.id in storage.index and not storage.holds_others(value.id)):
            storage.put_inside(value.id, history.id, 0, shares=False)
            storage.rows[value.id] = None


def _view(storage: Storage, inst, offset, feeds: set) -> None:
    operand = inst.values[0].id
    root = storage.root(operand)[0]
    if storage.in_a_row(operand):
        return
    if offset is not None and (root in storage.index or (root in feeds and offset == 0)):
        storage.put_inside(inst.result.id, operand, offset, shares=True)
        storage.elided.add(inst.result.id)


def _pieces(storage: Storage, inst, offsets, defined_plainly: set) -> None:
    """Every operand computed in its place in the result, or none (then the concat copies them)."""
    if offsets is None:
        return
    placed = []
    for operand in inst.values:
        if storage.in_a_row(operand.id):
            return
        root, offset = storage.root(operand.id)
        # The whole of a buffer of its own (a gradient, or its flattening reshape), computed by a kernel.
        if offset or root not in storage.index or root not in defined_plainly or root in placed or \
                storage.entries[storage.index[root]][2] != operand.type.nbytes:
            return
        placed.append(root)
    for root, offset in zip(placed, offsets):
        storage.put_inside(root, inst.result.id, offset, shares=True)
    storage.elided.add(inst.result.id)


def _in_place(storage: Storage, position: int, inst, operand: int, aliases: dict, outputs: set) -> bool:
    """The result in its operand's buffer, where that buffer is in the arena or a fetch's output buffer
    (or is a loop variable's, through a region's param) and nothing reads the buffer after `position`.
    Returns whether it is."""
    if storage.last_use.get(operand) != position:
        return False
    container = operand
    while container in aliases:
        container = aliases[container]
    if storage.in_a_row(container):
        return False
    root, _ = storage.root(container)
    if root not in storage.index and root not in outputs:
        return False
    if storage.shared_until.get(root, position) > position:
        return False  # a view or another piece of the buffer is read later
    storage.put_inside(inst.result.id, container, 0, shares=False)
    return True


def _epilogue_in_place(storage: Storage, kernel_end: int, inst, product, aliases: dict, outputs: set) -> bool:
    """The epilogue value `inst` and its kernel's product in one buffer, element for element (the same
    shape and element size), when nothing after the kernel reads the product: the product's, or the
    output buffer of a fetched value (a network's last layer: its product computed straight into the
    caller's array). Returns whether they are."""
    value = inst.result.type
    if value.shape != product.type.shape or value.dtype.size != product.type.dtype.size:
        return False
    if inst.result.id in storage.index:
        return _in_place(storage, kernel_end, inst, product.id, aliases, outputs)
    if inst.result.id in outputs and product.id in storage.index and storage.last_use.get(product.id) == kernel_end:
        storage.put_inside(product.id, inst.result.id, 0, shares=False)
        return True
    return False
