"""Reference data shipped with the package: communes and geography, NOS terminologies.

Modules: ``geo`` (communes, departments, the search-radius table, distances) and
``terminology`` (NOS code systems: specialties, professions, slot kinds),
``vocabulary`` (the search's modalities, "available within" windows and slot-kind
labels, in French). Reads files
under ``portal/data`` (see ``portal/data/NOTICE``), once per process.

May import: nothing of the portal but the contract. No database, no Flask.
"""
