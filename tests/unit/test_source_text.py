"""The trimming of source text: the ingest's shortcut for values already trimmed gives what DuckDB's
``trim`` gives, on the values that need trimming and on those that do not."""

from __future__ import annotations

import duckdb

from pipelines.sources.validation import trimmed

# (value, trimmed by hand): ASCII spaces, Unicode spaces at either end (no-break, ideographic),
# multi-byte letters, characters trim() keeps (a tab, a line feed), and values with nothing to trim.
VALUES = [
    ("ord-1", "ord-1"),
    (" ord-1", "ord-1"),
    ("ord-1  ", "ord-1"),
    ("  ", ""),
    ("", ""),
    ("\u00a0ord-1", "ord-1"),
    ("ord-1\u3000", "ord-1"),
    ("é-1", "é-1"),
    (" é-1 ", "é-1"),
    ("1-é", "1-é"),
    ("\tord-1\n", "\tord-1\n"),
    ("o r d", "o r d"),
]


def test_trimmed_text_is_trim_on_every_kind_of_value():
    with duckdb.connect() as con:
        rows = con.execute(
            f"select value, {trimmed('value')}, trim(value) from unnest(?::varchar[]) as v(value)",
            [[value for value, _ in VALUES]],
        ).fetchall()

    by_hand = dict(VALUES)
    assert [(value, shortcut) for value, shortcut, _ in rows] == [(value, by_hand[value]) for value, _, _ in rows]
    assert [shortcut for _, shortcut, _ in rows] == [full for _, _, full in rows]


def test_a_null_stays_null():
    with duckdb.connect() as con:
        assert con.execute(f"select {trimmed('cast(null as varchar)')}").fetchone() == (None,)
