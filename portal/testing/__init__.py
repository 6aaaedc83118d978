"""Testing support: throwaway PostgreSQL, browser settings, live server, conformance kit."""
