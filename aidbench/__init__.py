"""aidbench: the reference implementation and benchmark harness for AID.

Importing the package is cheap on purpose: nothing heavy (torch, diffusers) is imported here, so
`aidbench --help` and `aidbench ls` stay fast. Heavy imports live inside the functions that need them.
"""

__version__ = "0.1.0"
