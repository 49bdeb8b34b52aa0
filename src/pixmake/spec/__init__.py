"""Loading pixmake.yaml: YAML with line numbers, pydantic models, Jinja, series expansion."""
