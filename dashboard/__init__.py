"""The live pit-wall dashboard: ``panel serve dashboard/app.py`` (see dashboard/README.md)."""
