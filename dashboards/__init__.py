"""The analysts' view of a run: lazy Polars queries (``dashboards.queries``) and a browser page
built from them (``python -m dashboards build OUT_DIR``)."""
