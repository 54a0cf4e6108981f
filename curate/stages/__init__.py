"""Built-in stages, one module each; the registry (:mod:`curate.registry`) imports them lazily."""
