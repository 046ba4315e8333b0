"""The op library: one module per op family (definition, gradient, public builder), plus
variables and variable scopes. Importing this package loads nothing; `graphc.ops.all`
loads (and so registers) every family."""
