"""curate: multilingual pretraining-data curation on Ray (see README.md and DESIGN.md)."""

__version__ = "0.1.0"
