"""Kernels: each module emits the LLVM code of one family of ops or fused kernels."""
