"""One module per `python -m harness` subcommand: add_arguments(parser) and execute(args) -> int."""
