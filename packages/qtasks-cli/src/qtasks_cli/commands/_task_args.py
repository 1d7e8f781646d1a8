"""A command whose trailing arguments go to a task: negative numbers pass, option typos do not.

Click would either reject ``-3`` (an unknown short option) or, with ``ignore_unknown_options``,
hand every unknown option to the task: ``add NAME 1 --priorty 3`` would queue
``[1, "--priorty", 3]`` and succeed. Here a dash-led word before ``--`` must be a number or
one of the command's options; anything else is an error naming the closest option.
"""

from __future__ import annotations

import difflib
import json
import math

import click

from qtasks_cli.errors import CliError, ExitCode

__all__ = ["TaskArgumentsCommand", "is_number"]


def is_number(word: str) -> bool:
    """Whether ``word`` reads as a JSON number (``-3``, ``-1.5``, ``-2e3``), as ARGS are read."""
    try:
        value = json.loads(word)
    except ValueError:
        return False
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


class TaskArgumentsCommand(click.Command):
    """Declare it with ``context_settings={"ignore_unknown_options": True}``.

    Click then lets numbers through as arguments; ``parse_args`` refuses every other
    unknown option (see the module docstring).
    """

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        before = args[: args.index("--")] if "--" in args else args
        asked_for_help = any(word in ctx.help_option_names for word in before)
        unknown = self._unknown_option(ctx, args)
        if unknown is not None and not asked_for_help and not ctx.resilient_parsing:
            raise CliError(self._message(ctx, unknown), ExitCode.USAGE)
        return super().parse_args(ctx, args)

    def _unknown_option(self, ctx: click.Context, args: list[str]) -> str | None:
        """The first dash-led word before ``--`` that is neither a number nor an option.

        Walks the words as click's parser does for this command's options (long ones, and
        ``-h``): an option taking a value consumes the next word, whatever it looks like.
        """
        arity = {
            name: 0 if param.is_flag or param.count else param.nargs
            for param in self.get_params(ctx)
            if isinstance(param, click.Option)
            for name in (*param.opts, *param.secondary_opts)
        }
        words = iter(args)
        for word in words:
            if word == "--":
                return None
            if len(word) < 2 or not word.startswith("-") or is_number(word):
                continue
            name, has_value, _ = word.partition("=")
            if name not in arity:
                return name
            for _ in range(0 if has_value else arity[name]):
                next(words, None)
        return None

    def _message(self, ctx: click.Context, option: str) -> str:
        known = sorted(
            name
            for param in self.get_params(ctx)
            if isinstance(param, click.Option)
            for name in (*param.opts, *param.secondary_opts)
            if name.startswith("--")
        )
        close = difflib.get_close_matches(option, known, n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]}?)" if close else f" (options: {', '.join(known)})"
        return (
            f"no such option {option!r} for '{ctx.command_path}'{hint}; to pass it to the "
            f"task as an argument, put -- before the task's arguments: "
            f"{ctx.command_path} NAME [OPTIONS] -- ARGS..."
        )
