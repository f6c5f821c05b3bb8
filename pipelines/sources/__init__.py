"""The sources: read the store's data (a folder of files or the shop's database), validate every row
against :mod:`pipelines.source_schema`, convert orders to the reporting currency (:mod:`.currency`) and
load it by day into ``raw.*`` (:mod:`.raw_tables`)."""
