"""The typer application the commands register on."""

from __future__ import annotations

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="What would XPFO's page-ownership TLB flushing cost on this workload?")
