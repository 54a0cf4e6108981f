"""How a run executes on Ray: the session (:mod:`.session`), failures named by stage
(:mod:`.failures`), per-stage stats (:mod:`.stats`), the read path (:mod:`.read`), the per-batch
stage runner (:mod:`.runner`) and the plan that chains them into one Ray Dataset (:mod:`.plan`).
A stage's :attr:`~curate.stage.Stage.mode` says how it runs: ``tasks`` in Ray tasks, ``actors`` in
actor pools (``setup()`` once per actor), ``global`` as ``fit()`` on the whole dataset, then the
same per-batch pass (:func:`.plan.apply_global_stage`).
"""
