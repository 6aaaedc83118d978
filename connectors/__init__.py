"""The connectors shipped with sas-portal, loaded through entry points like third-party ones."""
