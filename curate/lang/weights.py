"""Fitted numbers of the language-ID ensemble. Written by ``python benchmarks/lid_accuracy.py --fit``;
do not edit by hand (refit instead). See :mod:`curate.lang.ensemble` for what each one is."""

#: Conditional-logit weights, one per curate.lang.ensemble.FEATURES entry.
ENSEMBLE_WEIGHTS = [3.2027, -0.0814, 0.3682, 6.8277, -0.4551, -0.0067, 1.6132, 0.9184, 1.6981]
#: (slope on the logit of the probability, slope on log length, intercept) per set of models.
CALIBRATION = {"lid.176+heliport": [0.6988, 2.144, -1.3181], "lid.176": [0.7109, 5.8533, -2.8135], "heliport": [0.7175, 5.4848, -1.5159], "cld2": [0.6014, -1.7983, 4.9496]}
#: heliport is skipped when lid.176's top probability reaches this and the language is not one of
#: curate.lang.identifier.CONFUSABLE (saves time; those documents get lid.176's own calibration).
SKIP_SECOND_OPINION_AT = 0.97
#: CLD2 settles a long text alone when at least this share of it is in one (non-confusable) language.
CLD2_SETTLES_AT = 0.8
#: The default minimum lang_score (a calibrated probability of being right).
CALIBRATED_THRESHOLD = 0.5
