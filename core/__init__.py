"""The kernel: errors, atomic files, DuckDB helpers, weeks and the Jinja environment. Imports nothing from the project."""
