"""Benchmarks behind ``sas-portal bench``: slot ingestion (:mod:`portal.bench.ingest`)
and the fan-out of one aggregation to several editors (:mod:`portal.bench.fanout`).

They measure; they assert nothing. The commands print the figures."""
