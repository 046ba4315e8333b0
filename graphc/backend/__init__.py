"""The backend: Program -> LLVM IR -> object -> shared library, cached on disk."""
