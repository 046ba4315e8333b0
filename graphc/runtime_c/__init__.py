"""C sources of the runtime linked into every compiled step (shipped as package data)."""
