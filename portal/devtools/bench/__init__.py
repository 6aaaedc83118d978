"""Benchmarks behind ``sas-portal bench``: slot ingestion (:mod:`portal.devtools.bench.ingest`)
and the fan-out of one aggregation to several editors (:mod:`portal.devtools.bench.fanout`).

They measure; they assert nothing. The commands print the figures."""
