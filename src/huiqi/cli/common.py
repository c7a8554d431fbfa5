"""What every command shares: language, output, and refusing bad input without a traceback."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from huiqi.errors import InputError
from huiqi.policy import PackageError
from huiqi.service.errors import ServiceError


class Lang(StrEnum):
    zh = "zh"
    en = "en"


PolicyOpt = Annotated[
    Path | None,
    typer.Option(
        "--policy", help="政策包目录（默认：郴政办发〔2021〕3号） / policy package folder"
    ),
]
LangOpt = Annotated[Lang, typer.Option("--lang", help="输出语言 / output language")]
AsOpt = Annotated[str, typer.Option("--as", help="以该用户身份操作 / act as this user")]


def out() -> Console:
    return Console(width=None if sys.stdout.isatty() else 160, highlight=False, soft_wrap=True)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


@contextmanager
def refuse_bad_input(lang: Lang) -> Iterator[None]:
    """Bad input or a refused call → its reasons on stderr, exit 2; never a traceback."""
    try:
        yield
    except InputError as exc:
        fail(
            [
                "输入有误：" if lang is Lang.zh else "Bad input:",
                *(f"  {p.line(lang.value)}" for p in exc.problems),
            ]
        )
    except PackageError as exc:
        fail(
            [
                "政策包有误：" if lang is Lang.zh else "Broken policy package:",
                *(f"  {p.line(lang.value)}" for p in exc.problems),
            ]
        )
    except ServiceError as exc:
        head, *rest = exc.lines(lang.value)
        fail([head, *(f"  {line}" for line in rest)])


def fail(lines: list[str]) -> None:
    err = Console(stderr=True, highlight=False, soft_wrap=True)
    for i, line in enumerate(lines):
        err.print(line, markup=False, style="bold red" if i == 0 else None)
    raise typer.Exit(2)
