"""Identity: sessions, the permission guard, Pro Santé Connect and local accounts."""
