"""Migration scripts, applied in order by Alembic (a package so that wheels ship them)."""
