"""Data files of SSL Workbench, not code: icons, the style sheet, help pages and desktop-entry files.

The repository keeps them in its top-level resources/ folder; pyproject.toml installs that folder as the
package `ssl_workbench_resources` so that app/resources.py finds the files with importlib.resources in a
wheel, a normal install and an editable install alike. Nothing here is meant to be imported for code.
"""
