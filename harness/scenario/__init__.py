"""Scenarios: the schema (pydantic) and the YAML loader that names file, line and field."""
