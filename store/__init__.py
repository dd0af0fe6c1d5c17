"""The application database: case read model, audit trail, calendar, reference data."""
