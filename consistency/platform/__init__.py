"""The platform's schema, the demo seed and the one-command platform setup."""
