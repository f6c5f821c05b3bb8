"""The alert subsystem without Dagster: what each check reads and judges, delivery and its retry
policy, and a sensor tick's work (judge, record, deliver, republish). The sensors in
:mod:`pipelines.defs.sensors` only decide when a tick runs."""
