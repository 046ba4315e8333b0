"""Program -> Program passes, one module each; `pipeline.py` lists them in order."""
