"""The `aios` command: one module per command group, each a thin layer over the library.

Owns option parsing, rendering to the terminal and exit codes; library errors become one line and
an exit code here and nowhere else. May import every other stage; nothing imports it.
"""

from .main import main

__all__ = ["main"]
