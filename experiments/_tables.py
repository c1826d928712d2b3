"""What the experiment scripts share: their tables as Markdown, for RESULTS.md."""

from __future__ import annotations

import pandas as pd


def markdown(table: pd.DataFrame) -> str:
    """``table`` as a Markdown table, values as ``str`` gives them."""
    head = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "|" + "---|" * len(table.columns)
    body = ["| " + " | ".join(map(str, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join([head, rule, *body])
