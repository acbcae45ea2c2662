"""cosim: co-simulation of neural-network training on memristor hardware.

`cosim.run(...)` and `cosim.write_outputs(...)` are the notebook API (see cosim.api).
"""
__version__ = "0.1.0"


def __getattr__(name):
    # Imported lazily so `import cosim.units` and the CLI's start-up stay light.
    if name in ("run", "run_seeds", "write_outputs", "RunResult"):
        from cosim import api
        return getattr(api, name)
    raise AttributeError(f"module 'cosim' has no attribute {name!r}")
