"""qasr Python toolkit: reference VGGTransformer, corpus synthesis, training,
quantization and export.  Run with Debian's interpreter: ``/usr/bin/python3``
with ``PYTHONPATH=tools``."""

__version__ = "0.1.0"
