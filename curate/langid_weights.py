"""Fitted numbers of the language-ID ensemble. Written by ``python benchmarks/lid_accuracy.py --fit``;
do not edit by hand (refit instead). See :mod:`curate.langid_ensemble` for what each one is."""

#: Conditional-logit weights, one per curate.langid_ensemble.FEATURES entry.
ENSEMBLE_WEIGHTS = [3.1997, -0.0765, 0.3031, 6.8388, -0.4552, -0.0074, 1.6706, 1.0527, 1.7038]
#: (slope on the logit of the probability, slope on log length, intercept) per set of models.
CALIBRATION = {"lid.176+heliport": [0.7004, 2.2373, -1.3712], "lid.176": [0.7105, 5.9108, -2.8403], "heliport": [0.7158, 5.4827, -1.5154], "cld2": [5.3289, 2.6105, -8.583]}
#: heliport is skipped when lid.176's top probability reaches this and the language is not one of
#: curate.stages.langid.CONFUSABLE (saves time; those documents get lid.176's own calibration).
SKIP_SECOND_OPINION_AT = 0.97
#: CLD2 settles a long text alone when at least this share of it is in one (non-confusable) language.
CLD2_SETTLES_AT = 0.8
#: The default minimum lang_score (a calibrated probability of being right).
CALIBRATED_THRESHOLD = 0.5
