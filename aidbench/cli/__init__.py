"""The `aidbench` command line: one thin module per command (parse, call one plain function, print).

Only light modules are imported at the top, so `aidbench --help` and `aidbench ls` never import torch.
A user mistake raised as UserError becomes one sentence on stderr and its exit code (1 bad input,
2 usage, 3 not built yet, 4 a regression found by `aidbench check`); Ctrl-C exits 130.
"""

from __future__ import annotations

import errno
import signal
import sys

import typer

from aidbench.cli import (
    bench,
    compare,
    data,
    human_eval,
    inspect,
    leaderboard,
    report,
    reproduce,
    sample,
    train,
    weights,
)
from aidbench.cli import eval as evaluation
from aidbench.errors import UserError

app = typer.Typer(
    name="aidbench",
    help="AID reference implementation and benchmark harness: data → train → sample → eval → report.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(data.app, name="data")
# The flow first, then what runs all of it, then inspection.
for commands in (train, sample, evaluation, compare, report, leaderboard, bench, reproduce, inspect):
    app.add_typer(commands.app)
app.add_typer(human_eval.app, name="human-eval")
app.add_typer(weights.app, name="weights")
app.add_typer(weights.stats_app, name="stats")


def _raise_interrupt(signum, frame):  # SIGTERM behaves like Ctrl-C: runs are marked failed, not left running
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        code = app(args=argv, prog_name="aidbench", standalone_mode=False)
        if code == 130:  # typer turns Ctrl-C (and so SIGTERM) into this exit code without a word
            typer.echo("interrupted.", err=True)
    except typer.Abort:
        typer.echo("aborted.", err=True)
        code = 130
    except typer.TyperException as err:  # usage errors found by the parser: its own message and exit code
        show = getattr(err, "show", None)
        if show is not None:
            show()
        else:
            typer.echo(f"error: {err}", err=True)
        code = getattr(err, "exit_code", 2)
    except UserError as err:
        typer.echo(f"error: {err}", err=True)
        code = err.exit_code
    except KeyboardInterrupt:
        typer.echo("interrupted.", err=True)
        code = 130
    except OSError as err:  # disk full, permissions, a name too long: the system's words and the file
        typer.echo(f"error: {os_error_sentence(err)}", err=True)
        code = 1
    sys.exit(code if isinstance(code, int) else 0)


def os_error_sentence(err: OSError) -> str:
    where = f" ({err.filename})" if err.filename else ""
    advice = {
        errno.ENOSPC: "free some space (or point paths.results elsewhere) and resume the run",
        errno.EDQUOT: "free some space (or point paths.results elsewhere) and resume the run",
        errno.EACCES: "check the folder's permissions",
        errno.EROFS: "the file system is read-only: point paths.results elsewhere",
        errno.ENAMETOOLONG: "use shorter names",
    }.get(err.errno, "see the message above and resume the run once it is fixed")
    return f"{err.strerror or err}{where}; {advice}."
