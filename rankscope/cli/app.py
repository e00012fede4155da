"""The typer application every command registers on."""

import typer

app = typer.Typer(add_completion=True, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Decide where the LoRA budget of a fine-tuning run goes.")
