"""
Create the two roles of the dashboard as groups (issue 5: viewers see, operators act).

Installing or rolling back the safety net (consistency.manage_safety_net) is in
neither group: it is for superusers, or given to a named person by hand.
"""

from django.contrib.auth.management import create_permissions
from django.db import migrations

# Frozen here rather than imported: a migration must not change when the code does.
VIEW = [
    ("consistency", "view_jobrun"),
    ("consistency", "view_jobevent"),
    ("consistency", "view_metricsnapshot"),
    ("consistency", "view_auditentry"),
    ("consistency", "view_therapistresult"),
    ("consistency", "view_platformuser"),
    ("consistency", "view_therapistenrollment"),
    ("consistency", "view_therapistprofile"),
    ("interventions", "view_intervention"),
]
ACT = [
    ("consistency", "run_jobs"),
    ("interventions", "resolve_intervention"),
]
ROLES = {"Viewers": VIEW, "Operators": VIEW + ACT}


def create_roles(apps, schema_editor):
    # Permissions are normally created after all migrations (post_migrate); the
    # groups need them now.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    create_groups(apps)


def create_groups(apps):
    """Create (or complete) the groups of ROLES from existing permissions."""
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    for name, codenames in ROLES.items():
        group, _ = Group.objects.get_or_create(name=name)
        for app_label, codename in codenames:
            group.permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("consistency", "0003_results"),
        ("interventions", "0002_resolve_permission"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
