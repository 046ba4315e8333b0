"""The IR: Program, its text form, verifier, reference interpreter, and lowering from graphs."""
