"""The safety net: the platform triggers that log what breaks a rule, their install, rollback and status."""
