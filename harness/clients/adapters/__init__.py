"""Adapters of the clients under test. Each module runs *inside its client's venv*
(python harness/clients/adapters/<module>.py), imports only the standard library, its
library and the sibling `protocol` module, and serves the JSON-lines protocol of
protocol.py on stdin/stdout. Module names never equal a library's package name (the
script's folder is first on sys.path and would shadow it)."""
