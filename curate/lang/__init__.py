"""Language identification as a library: the models' votes and how they are combined
(:mod:`~curate.lang.ensemble`, :mod:`~curate.lang.cld2`), the pairwise specialists, the fitted
weights and calibrations, the measured thresholds, and the text each model is shown
(:mod:`~curate.lang.text`). The ``langid`` stage (:mod:`curate.stages.langid`) runs them on
batches; ISO codes and scripts are :mod:`filters.langcodes`.
"""
