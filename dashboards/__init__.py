"""The analysts' view of a run: lazy Polars queries (the browser dashboard comes with issue 10)."""
