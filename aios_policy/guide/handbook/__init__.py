"""The handbook: the constitution as a static, offline HTML site for the company's new hires, with its own search.

This subpackage owns what each page shows (`site`), the Jinja2 templates that lay the pages out and
escape every piece of constitution text (`templates/`, rendered by `render`, Jinja2's only home),
the stylesheet and search script (`static/`), and writing the site to a folder. It may import
`aios_policy.constitution`, `aios_policy.words`, `aios_policy.engine`, `aios_policy.analysis`,
`aios_policy.guide.explain` and `aios_policy.errors`; never `aios_policy.serve` or `aios_policy.cli`.
"""

from .render import Handbook, HandbookError, Page
from .site import build

__all__ = ["Handbook", "HandbookError", "Page", "build"]
