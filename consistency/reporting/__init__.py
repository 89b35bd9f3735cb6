"""The read models behind the pages: snapshots, the drill-down table, the overview, trends, the therapist page, exports and retention."""
