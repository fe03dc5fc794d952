"""Sphinx configuration: MyST pages, the configuration reference from the traitlets."""

project = "jhub_kit"
author = "jhub_kit developers"
extensions = ["myst_parser", "autodoc_traits", "sphinx.ext.autodoc"]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3
exclude_patterns = ["_build", "tutorials/configs"]
html_theme = "alabaster"
autodoc_typehints = "none"
suppress_warnings = ["myst.xref_missing"]
nitpicky = False
