from opsdash.db import PLATFORM_DB


class PlatformRouter:
    """
    Send the marketplace's tables to the "platform" database and never migrate it.

    A model belongs to the platform when its class sets ``platform_table = True``.
    """

    alias = PLATFORM_DB

    def _is_platform(self, model):
        return getattr(model, "platform_table", False)

    def db_for_read(self, model, **hints):
        return self.alias if self._is_platform(model) else None

    db_for_write = db_for_read

    def allow_relation(self, obj1, obj2, **hints):
        if self._is_platform(type(obj1)) == self._is_platform(type(obj2)):
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        if db == self.alias:
            return False
        return None
