"""A thin layer over llvmlite for writing kernels: typed memory access, loops, math.

Kernels are LLVM functions `i32 kernel(ptr out, ptr in..., ptr status)` that
return 0 or a TF error code. Values in registers use `register_type` (bool is
i1); in memory bool is one byte (`memory_type`), as in NumPy.

Elementwise code (scalar_ops, vector_math) asks the builder for its constants
and types (`kb.constant`, `kb.register_type`, `kb.lane_type`), so the same code
computes one element or, inside `with kb.vector_lanes(n)`, n elements at once
as LLVM vectors.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
from typing import Optional

import llvmlite.ir as ir
import numpy as np

from graphc.core import dtypes
from graphc.core.dtypes import DType
from graphc.runtime import abi

I1 = ir.IntType(1)
I8 = ir.IntType(8)
I16 = ir.IntType(16)
I32 = ir.IntType(32)
I64 = ir.IntType(64)
F16 = ir.HalfType()
F32 = ir.FloatType()
F64 = ir.DoubleType()
PTR = ir.PointerType()
VOID = ir.VoidType()

# LLVM integers have no sign: unsigned dtypes share the signed types, and the code that
# compares, divides or widens them picks the unsigned instruction (scalar_ops.py).
_MEMORY = {"float16": F16, "float32": F32, "float64": F64, "int8": I8, "int16": I16, "int32": I32, "int64": I64,
           "uint8": I8, "uint16": I16, "bool": I8}
_REGISTER = dict(_MEMORY, bool=I1)


def memory_type(dtype: DType):
    return _MEMORY[dtype.name]


def register_type(dtype: DType):
    return _REGISTER[dtype.name]


def i64(value: int) -> ir.Constant:
    return ir.Constant(I64, value)


def constant(dtype: DType, value) -> ir.Constant:
    """A scalar constant in register form (an unsigned one as the signed integer of its bits)."""
    if dtype.is_floating:
        return ir.Constant(register_type(dtype), float(value))
    if dtype.is_unsigned:
        value = int(np.array(int(value)).astype(dtype.np_dtype).view(f"i{dtype.size}"))
    return ir.Constant(register_type(dtype), int(value))


# Fast-math flags for float reductions whose order graphc fixes itself: the
# result is the same on every run, but may differ in the last bits from a
# strictly sequential sum.
REASSOCIATE = ("reassoc", "contract")


class Splat(ir.Constant):
    """A vector constant of one value in every lane, printed as LLVM's `splat (<type> <value>)`: spelled
    lane by lane (16 float32 with AVX-512), they made the CNN step's IR text, which Python prints and
    LLVM parses, 9% longer (623 KB against 566). LLVM builds the same constant from either."""

    def _get_reference(self) -> str:
        lane = self.constant[0]
        return f"splat ({lane.type} {lane.get_reference()})"


class _UndefinedVector(ir.Constant):
    """A vector left undefined, printed as LLVM's `undef`: llvmlite spells it lane by lane (`<float
    undef, ...>`), which was 26% of the CNN step's IR text (163 of 639 KB, one in every broadcast twice),
    made of a constant a lane that Python built and printed and LLVM parsed again. LLVM reads both as
    the same constant."""

    def _get_reference(self) -> str:
        return "undef"


@functools.lru_cache(maxsize=None)
def undefined(llvm_type) -> ir.Constant:
    """The undefined value of `llvm_type` (an insertelement's start, a shufflevector's unused operand).
    One constant per type, shared: a constant has no parent, and it is printed where it is used."""
    if isinstance(llvm_type, ir.VectorType):
        return _UndefinedVector(llvm_type, ir.Undefined)
    return ir.Constant(llvm_type, ir.Undefined)


class _ZeroVector(ir.Constant):
    """A vector of zeros, printed as LLVM's `zeroinitializer`: llvmlite spells it lane by lane, which
    was 42 of the CNN step's 489 KB of IR text (the convolutions' first accumulators)."""

    def _get_reference(self) -> str:
        return "zeroinitializer"


@functools.lru_cache(maxsize=None)
def zeros(llvm_type) -> ir.Constant:
    """The zero of `llvm_type`, one shared constant per type (as `undefined`)."""
    if isinstance(llvm_type, ir.VectorType):
        return _ZeroVector(llvm_type, None)
    return ir.Constant(llvm_type, None)


@functools.lru_cache(maxsize=None)
def _lane_zero_mask(lanes: int) -> ir.Constant:
    """The shufflevector mask that copies lane 0 to all `lanes` lanes."""
    return Splat(ir.VectorType(I32, lanes), [0] * lanes)


class KernelBuilder:
    """Builds one kernel function; `self.b` is the llvmlite IRBuilder."""

    def __init__(self, module: ir.Module, name: str, arg_names: list[str], arg_types=None, return_type=I32):
        """A new internal function; arguments are pointers unless `arg_types` says otherwise."""
        arg_types = arg_types or [PTR] * len(arg_names)
        fnty = ir.FunctionType(return_type, arg_types)
        self.module = module
        self.function = ir.Function(module, fnty, name)
        self.function.linkage = "internal"
        for arg, arg_name, arg_type in zip(self.function.args, arg_names, arg_types):
            arg.name = arg_name
            if arg_type == PTR and arg_name not in ("status", "context"):
                arg.add_attribute("noalias")
        self.entry = self.function.append_basic_block("entry")
        self.b = ir.IRBuilder(self.entry)
        self.args = {a.name: a for a in self.function.args}
        # Which buffer each base pointer points into, and the memory accesses through them:
        # at finish(), accesses to different buffers are declared not to alias.
        self._buffer_of: dict[int, object] = {}
        self._accesses: list = []
        self.lanes = 1  # elements per register value of elementwise code (see vector_lanes)

    def tag(self, pointer, buffer_key) -> None:
        """Declares that `pointer` points into the buffer `buffer_key` (distinct keys never overlap)."""
        self._buffer_of[id(pointer)] = buffer_key

    def offset(self, base, dtype: DType, offset: int):
        """A pointer `offset` elements past `base`, into base's buffer (its alias scope, if tagged)."""
        if offset == 0:
            return base
        pointer = self.address(base, dtype, i64(offset))
        if id(base) in self._buffer_of:
            self.tag(pointer, self._buffer_of[id(base)])
        return pointer

    def _record(self, instruction, base) -> None:
        key = self._buffer_of.get(id(base))
        if key is not None:
            self._accesses.append((instruction, key))

    def arg(self, name: str):
        return self.args[name]

    # -- memory -----------------------------------------------------------------------------

    def address(self, base, dtype: DType, index):
        return self.b.gep(base, [index], inbounds=True, source_etype=memory_type(dtype))

    def load(self, base, dtype: DType, index):
        value = self.b.load(self.address(base, dtype, index), typ=memory_type(dtype))
        self._record(value, base)
        if dtype is dtypes.bool_:
            return self.b.icmp_unsigned("!=", value, ir.Constant(I8, 0))
        return value

    def store(self, base, dtype: DType, index, value) -> None:
        if dtype is dtypes.bool_:
            value = self.b.zext(value, I8)
        self._record(self.b.store(value, self.address(base, dtype, index)), base)

    def load_vector(self, base, dtype: DType, index, count: int):
        """Elements base[index : index + count] as one <count x T> register value."""
        vector_type = ir.VectorType(memory_type(dtype), count)
        value = self.b.load(self.address(base, dtype, index), typ=vector_type, align=dtype.size)
        self._record(value, base)
        if dtype is dtypes.bool_:
            return self.b.icmp_unsigned("!=", value, ir.Constant(vector_type, [ir.Constant(I8, 0)] * count))
        return value

    def store_vector(self, base, dtype: DType, index, value) -> None:
        """Stores the vector `value` at base[index : index + its length]."""
        if dtype is dtypes.bool_:
            value = self.b.zext(value, ir.VectorType(I8, value.type.count))
        self._record(self.b.store(value, self.address(base, dtype, index), align=dtype.size), base)

    def load_vector_masked(self, base, dtype: DType, index, mask, fill):
        """base[index + lane] in the lanes where `mask` is set, `fill` in the others (never read)."""
        vector_type = ir.VectorType(memory_type(dtype), mask.type.count)
        function = declare(self.module, f"llvm.masked.load.{_suffix(vector_type)}.p0", vector_type,
                           [PTR, I32, mask.type, vector_type])
        value = self.b.call(function, [self.address(base, dtype, index), ir.Constant(I32, dtype.size), mask, fill])
        self._record(value, base)
        return value

    def store_vector_masked(self, base, dtype: DType, index, value, mask) -> None:
        """Stores the lanes of `value` where `mask` is set at base[index + lane]."""
        function = declare(self.module, f"llvm.masked.store.{_suffix(value.type)}.p0", VOID,
                           [value.type, PTR, I32, mask.type])
        self._record(self.b.call(function, [value, self.address(base, dtype, index), ir.Constant(I32, dtype.size),
                                            mask]), base)

    def variable(self, llvm_type, initial=None):
        """A mutable local (an alloca in the entry block; LLVM promotes it to a register)."""
        with self.b.goto_block(self.entry):
            self.b.position_at_start(self.entry)
            slot = self.b.alloca(llvm_type)
        slot.type = PTR  # opaque, as every pointer graphc handles (see local_array)
        if initial is not None:
            self.b.store(initial, slot)
        return slot

    def local_array(self, element_type, count: int):
        """A stack array of `count` elements (in the entry block), as a pointer to its first element."""
        with self.b.goto_block(self.entry):
            self.b.position_at_start(self.entry)
            array = self.b.alloca(element_type, size=i64(count))
            array.align = 64
        # An opaque pointer, so the array can be accessed at other types (vectors) too;
        # llvmlite types allocas as typed pointers, and its bitcast to `ptr` is a no-op.
        array.type = PTR
        return array

    def get(self, slot, llvm_type):
        return self.b.load(slot, typ=llvm_type)

    def set(self, slot, value) -> None:
        self.b.store(value, slot)

    # -- control flow -----------------------------------------------------------------------

    @contextlib.contextmanager
    def loop(self, count, name: str = "i"):
        """`for i in range(count)`: yields the i64 index inside the body."""
        if isinstance(count, int):
            count = i64(count)
        b = self.b
        before = b.block
        header = self.function.append_basic_block(f"{name}.header")
        body = self.function.append_basic_block(f"{name}.body")
        done = self.function.append_basic_block(f"{name}.done")
        b.branch(header)
        b.position_at_end(header)
        index = b.phi(I64, name=name)
        index.add_incoming(i64(0), before)
        b.cbranch(b.icmp_signed("<", index, count), body, done)
        b.position_at_end(body)
        yield index
        following = b.add(index, i64(1), name=f"{name}.next")
        index.add_incoming(following, b.block)
        b.branch(header)
        b.position_at_end(done)

    @contextlib.contextmanager
    def if_(self, condition):
        with self.b.if_then(condition):
            yield

    def fail(self, code: int, message: str, *values) -> None:
        """Records a failure in `status` and returns `code` (an `errors` code) from the kernel.

        `message` may hold up to three `%lld` placeholders for i64 `values`.
        """
        fn = runtime_function(self.module, "graphc_fail")
        text = global_string(self.module, message)
        args = list(values) + [i64(0)] * (3 - len(values))
        self.b.call(fn, [self.arg("status"), ir.Constant(I32, code), text] + args)
        self.b.ret(ir.Constant(I32, code))

    def finish(self) -> ir.Function:
        if self.function.function_type.return_type == VOID:
            self.b.ret_void()
        else:
            self.b.ret(ir.Constant(I32, 0))
        self._declare_no_aliasing()
        return self.function

    def _declare_no_aliasing(self) -> None:
        """Scoped-noalias metadata: each buffer is a scope; an access may alias only its own.

        Pointers loaded from the step's buffer array look alike to LLVM; without
        this, a fused loop that reads a gradient and updates a weight in place
        stays scalar for fear the two overlap.
        """
        keys = sorted({key for _, key in self._accesses}, key=repr)
        if len(keys) < 2:
            return
        module = self.module
        domain = module.add_metadata([ir.MetaDataString(module, f"graphc.{self.function.name}")])
        scopes = {key: module.add_metadata([ir.MetaDataString(module, f"graphc.{self.function.name}.{key!r}"),
                                            domain]) for key in keys}
        own = {key: module.add_metadata([scopes[key]]) for key in keys}
        others = {key: module.add_metadata([scopes[k] for k in keys if k != key]) for key in keys}
        for instruction, key in self._accesses:
            instruction.set_metadata("alias.scope", own[key])
            instruction.set_metadata("noalias", others[key])

    # -- lanes ----------------------------------------------------------------------------------

    @contextlib.contextmanager
    def vector_lanes(self, lanes: int):
        """Within the block, elementwise values are vectors of `lanes` elements."""
        saved, self.lanes = self.lanes, lanes
        try:
            yield
        finally:
            self.lanes = saved

    def lane_type(self, scalar_type, lanes: Optional[int] = None):
        """`scalar_type`, or a vector of it when emitting `lanes` (by default `self.lanes`) > 1 elements at once."""
        lanes = self.lanes if lanes is None else lanes
        return scalar_type if lanes == 1 else ir.VectorType(scalar_type, lanes)

    def register_type(self, dtype: DType, lanes: Optional[int] = None):
        """`dtype`'s register type in `lanes` lanes (by default `self.lanes`)."""
        return self.lane_type(register_type(dtype), lanes)

    def constant(self, dtype: DType, value, lanes: Optional[int] = None):
        """A constant of `dtype` in register form, in every one of `lanes` lanes (by default `self.lanes`)."""
        scalar = constant(dtype, value)
        lanes = self.lanes if lanes is None else lanes
        return scalar if lanes == 1 else Splat(ir.VectorType(scalar.type, lanes), [scalar] * lanes)

    def broadcast(self, scalar, lanes: Optional[int] = None):
        """The run-time value `scalar` in every one of `lanes` lanes (by default `self.lanes`):
        inserted into lane 0, then shuffled to all."""
        lanes = self.lanes if lanes is None else lanes
        if lanes == 1:
            return scalar
        vector_type = ir.VectorType(scalar.type, lanes)
        single = self.b.insert_element(undefined(vector_type), scalar, ir.Constant(I32, 0))
        return self.b.shuffle_vector(single, undefined(vector_type), _lane_zero_mask(lanes))

    # -- math ---------------------------------------------------------------------------------

    def intrinsic(self, name: str, dtype: DType, args):
        """`llvm.<name>.<type>` applied to `args` (e.g. llvm.exp.f32, llvm.exp.v8f32)."""
        llvm_type = self.register_type(dtype)
        fn = declare(self.module, f"llvm.{name}.{_suffix(llvm_type)}", llvm_type, [a.type for a in args])
        return self.b.call(fn, args)

    def libm(self, name: str, dtype: DType, args):
        """C's `name` (libm's float64 function, or its float32 one, `name`f) applied to `args`, lane by
        lane when they are vectors: these functions take one element, and have no LLVM intrinsic."""
        scalar_type = register_type(dtype)
        c_name = name + "f" if dtype.size == 4 else name
        fn = declare(self.module, c_name, scalar_type, [scalar_type] * len(args))
        if self.lanes == 1:
            return self.b.call(fn, args)
        result = undefined(self.register_type(dtype))
        for lane in range(self.lanes):
            index = ir.Constant(I32, lane)
            result = self.b.insert_element(result, self.b.call(fn, [self.b.extract_element(a, index) for a in args]),
                                           index)
        return result

    def intrinsic_overloaded(self, name: str, result_type, arg_type, value):
        """A conversion intrinsic overloaded on both types (llvm.fptosi.sat.i32.f32)."""
        fn = declare(self.module, f"llvm.{name}.{_suffix(result_type)}.{_suffix(arg_type)}", result_type, [arg_type])
        return self.b.call(fn, [value])


def _suffix(llvm_type) -> str:
    if isinstance(llvm_type, ir.VectorType):
        return f"v{llvm_type.count}{_suffix(llvm_type.element)}"
    if llvm_type == F16:
        return "f16"
    if llvm_type == F32:
        return "f32"
    if llvm_type == F64:
        return "f64"
    return f"i{llvm_type.width}"


class IndirectCallee:
    """A function pointer as a call target: llvmlite needs the function type, which an
    opaque pointer does not carry."""

    def __init__(self, pointer, function_type: ir.FunctionType):
        self.pointer = pointer
        self.function_type = function_type
        self.type = pointer.type

    def get_reference(self) -> str:
        return self.pointer.get_reference()


def declare(module: ir.Module, name: str, return_type, arg_types) -> ir.Function:
    """The function `name` in `module`, declared on first use."""
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    return ir.Function(module, ir.FunctionType(return_type, arg_types), name)


_C_TYPES = {"void": VOID, "int32_t": I32, "uint32_t": I32, "int64_t": I64, "uint64_t": I64}


def llvm_type(c_type: str):
    """The LLVM type of a C type of the ABI table (every pointer is an opaque `ptr`)."""
    return PTR if c_type.endswith("*") or c_type == "graphc_task" else _C_TYPES[c_type]


def declare_c(module: ir.Module, function: abi.Function) -> ir.Function:
    """`function` of the ABI table (runtime/abi.py) declared in `module`."""
    return declare(module, function.name, llvm_type(function.result), [llvm_type(a) for a in function.arguments])


def runtime_function(module: ir.Module, name: str) -> ir.Function:
    """The function `name` of runtime_c (linked into every library), declared from the ABI table."""
    return declare_c(module, abi.RUNTIME_FUNCTIONS[name])


def global_string(module: ir.Module, text: str):
    """A NUL-terminated constant string; identical strings share one global."""
    data = bytearray(text.encode() + b"\0")
    name = ".str." + hashlib.sha1(text.encode()).hexdigest()[:12]
    existing = module.globals.get(name)
    if existing is not None:
        return existing
    array_type = ir.ArrayType(I8, len(data))
    variable = ir.GlobalVariable(module, array_type, name)
    variable.global_constant = True
    variable.linkage = "private"
    variable.initializer = ir.Constant(array_type, data)
    return variable


def global_array(module: ir.Module, name: str, dtype: DType, values) -> ir.GlobalVariable:
    """A private constant array of `values` in `dtype`'s memory form (one zero when empty)."""
    element_type = memory_type(dtype)
    array_type = ir.ArrayType(element_type, max(len(values), 1))
    variable = ir.GlobalVariable(module, array_type, name)
    variable.global_constant = True
    variable.linkage = "private"
    variable.align = 64
    if not np.ascontiguousarray(values, dtype=dtype.np_dtype).view(np.uint8).any():  # all bits 0 (-0.0 is not)
        variable.initializer = ir.Constant(array_type, None)
    else:
        variable.initializer = ir.Constant(array_type, [ir.Constant(element_type, constant(dtype, x).constant)
                                                        for x in values])
    return variable
