"""Every side effect of a case: records, calendar look-ups, and the external systems."""
