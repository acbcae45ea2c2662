"""cosim: co-simulation of neural-network training on memristor hardware."""
__version__ = "0.1.0"
