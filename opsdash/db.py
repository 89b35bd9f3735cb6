"""The database alias of the marketplace's database, and the cursor helper every app uses."""

# The marketplace's own database (opsdash.routers sends the platform models there and
# never migrates it); "default" is opsdash's.
PLATFORM_DB = "platform"


def fetch_dicts(cursor):
    """Return the rows of a cursor's last statement as dicts keyed by column name."""
    columns = [column.name for column in cursor.description]
    return [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]
