"""Initial schema: every table timebot needs, so later features add code, not churn.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

Written from `alembic revision --autogenerate` and reviewed; it must equal the models in
`timebot.storage.tables` (tests/integration/storage compare them). Types are spelled out
here rather than imported, so later changes to application types cannot rewrite history.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | tuple[str, ...] | None = None
depends_on: str | tuple[str, ...] | None = None

# timebot.storage.types as of this revision.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)
JSON = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")

# Children before parents, for downgrade.
TABLES = (
    "location_fixes",
    "correction_decisions",
    "marks",
    "corrections",
    "zones",
    "shifts",
    "schedule_assignments",
    "link_tokens",
    "explanations",
    "employee_offices",
    "schedules",
    "processed_events",
    "outbox",
    "offices",
    "employees",
    "departments",
    "conversation_state",
    "calendar_overrides",
    "audit_log",
    "api_tokens",
    "portals",
    "job_runs",
)


def _is_sqlite() -> bool:
    return bool(op.get_context().dialect.name == "sqlite")


def _corrections_target_mark_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["target_mark_id"], ["marks.id"], name=op.f("fk_corrections_target_mark_id_marks")
    )


def upgrade() -> None:
    op.create_table(
        "job_runs",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("job_name", sa.String(length=64), nullable=False),
        sa.Column("scope", sa.String(length=64), server_default="", nullable=False),
        sa.Column("period_key", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), server_default="running", nullable=False),
        sa.Column("claimed_by", sa.String(length=128), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("finished_at", TIMESTAMP, nullable=True),
        sa.Column("detail", sa.Text(), server_default="", nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_job_runs")),
        sa.UniqueConstraint(
            "job_name", "scope", "period_key", name=op.f("uq_job_runs_job_name_scope_period_key")
        ),
    )
    op.create_table(
        "portals",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("domain", sa.String(length=255), nullable=False),
        sa.Column("client_endpoint", sa.String(length=512), nullable=False),
        sa.Column("connection", sa.String(length=16), nullable=False),
        sa.Column("webhook_url", sa.String(length=512), nullable=True),
        sa.Column("access_token", sa.Text(), nullable=True),
        sa.Column("refresh_token", sa.Text(), nullable=True),
        sa.Column("access_expires_at", TIMESTAMP, nullable=True),
        sa.Column("application_token", sa.String(length=128), nullable=True),
        sa.Column("scope", sa.Text(), server_default="", nullable=False),
        sa.Column("bot_id", sa.Integer(), nullable=True),
        sa.Column("bot_code", sa.String(length=64), server_default="timebot", nullable=False),
        sa.Column("bot_token", sa.String(length=64), nullable=True),
        sa.Column("event_mode", sa.String(length=16), server_default="fetch", nullable=False),
        sa.Column("event_offset", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("status", sa.String(length=32), server_default="active", nullable=False),
        sa.Column("language", sa.String(length=8), server_default="ru", nullable=False),
        sa.Column("timezone", sa.String(length=64), server_default="Europe/Moscow", nullable=False),
        sa.Column("rate_limit", sa.Float(), server_default="2.0", nullable=False),
        sa.Column("rate_burst", sa.Integer(), server_default="50", nullable=False),
        sa.Column("settings", JSON, nullable=False),
        sa.Column("last_event_at", TIMESTAMP, nullable=True),
        sa.Column("installed_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("token_version", sa.Integer(), server_default="0", nullable=False),
        sa.CheckConstraint(
            "connection IN ('oauth', 'webhook')", name=op.f("ck_portals_connection")
        ),
        sa.CheckConstraint(
            "event_mode IN ('fetch', 'webhook')", name=op.f("ck_portals_event_mode")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_portals")),
        sa.UniqueConstraint("member_id", name=op.f("uq_portals_member_id")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("portal_id", ID, nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("scopes", JSON, nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=True),
        sa.Column("revoked_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portals.id"],
            name=op.f("fk_api_tokens_portal_id_portals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("jti", name=op.f("uq_api_tokens_jti")),
    )
    op.create_index(op.f("ix_api_tokens_portal_id"), "api_tokens", ["portal_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("portal_id", ID, nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("entity", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column("details", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portals.id"],
            name=op.f("fk_audit_log_portal_id_portals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_portal_id_at"), "audit_log", ["portal_id", "at"])
    op.create_table(
        "calendar_overrides",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("portal_id", ID, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("hours", sa.Float(), nullable=True),
        sa.Column("note", sa.String(length=255), server_default="", nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portals.id"],
            name=op.f("fk_calendar_overrides_portal_id_portals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_overrides")),
        sa.UniqueConstraint("portal_id", "day", name=op.f("uq_calendar_overrides_portal_id_day")),
    )
    op.create_table(
        "conversation_state",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("portal_id", ID, nullable=False),
        sa.Column("dialog_id", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=64), nullable=False),
        sa.Column("data", JSON, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portals.id"],
            name=op.f("fk_conversation_state_portal_id_portals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conversation_state")),
        sa.UniqueConstraint(
            "portal_id",
            "dialog_id",
            "user_id",
            name=op.f("uq_conversation_state_portal_id_dialog_id_user_id"),
        ),
    )
    op.create_table(
        "departments",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("portal_id", ID, nullable=False),
        sa.Column("bitrix_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("parent_bitrix_id", sa.Integer(), nullable=True),
        sa.Column("head_user_id", sa.Integer(), nullable=True),
        sa.Column("synced_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portals.id"],
            name=op.f("fk_departments_portal_id_portals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint(
            "portal_id", "bitrix_id", name=op.f("uq_departments_portal_id_bitrix_id")
        ),
    )
    op.create_table(
        "employees",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("portal_id", ID, nullable=False),
        sa.Column("bitrix_user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("first_name", sa.String(length=128), server_default="", nullable=False),
        sa.Column("last_name", sa.String(length=128), server_default="", nullable=False),
        sa.Column("email", sa.String(length=255), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("department_ids", JSON, nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("is_admin", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("remote_always", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("remote_weekdays", JSON, nullable=False),
        sa.Column("all_offices", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("consented_at", TIMESTAMP, nullable=True),
        sa.Column("synced_at", TIMESTAMP, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portals.id"],
            name=op.f("fk_employees_portal_id_portals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_employees")),
        sa.UniqueConstraint(
            "portal_id", "bitrix_user_id", name=op.f("uq_employees_portal_id_bitrix_user_id")
        ),
    )
    op.create_table(
        "offices",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("portal_id", ID, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("address", sa.String(length=512), server_default="", nullable=False),
        sa.Column("ip_ranges", JSON, nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portals.id"],
            name=op.f("fk_offices_portal_id_portals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_offices")),
    )
    op.create_index(op.f("ix_offices_portal_id"), "offices", ["portal_id"])
    op.create_table(
        "outbox",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("portal_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("method", sa.String(length=128), nullable=False),
        sa.Column("payload", JSON, nullable=False),
        sa.Column("dedupe_key", sa.String(length=191), nullable=True),
        sa.Column("status", sa.String(length=16), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("next_attempt_at", TIMESTAMP, nullable=False),
        sa.Column("locked_until", TIMESTAMP, nullable=True),
        sa.Column("locked_by", sa.String(length=128), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("sent_at", TIMESTAMP, nullable=True),
        sa.Column("result", JSON, nullable=True),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portals.id"],
            name=op.f("fk_outbox_portal_id_portals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("portal_id", "dedupe_key", name=op.f("uq_outbox_portal_id_dedupe_key")),
    )
    op.create_index(
        op.f("ix_outbox_status_next_attempt_at"), "outbox", ["status", "next_attempt_at"]
    )
    op.create_table(
        "processed_events",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("portal_id", ID, nullable=False),
        sa.Column("event_key", sa.String(length=128), nullable=False),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portals.id"],
            name=op.f("fk_processed_events_portal_id_portals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_processed_events")),
        sa.UniqueConstraint(
            "portal_id", "event_key", name=op.f("uq_processed_events_portal_id_event_key")
        ),
    )
    op.create_index(op.f("ix_processed_events_received_at"), "processed_events", ["received_at"])
    op.create_table(
        "schedules",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("portal_id", ID, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("late_tolerance_min", sa.Integer(), server_default="0", nullable=False),
        sa.Column("early_tolerance_min", sa.Integer(), server_default="0", nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portals.id"],
            name=op.f("fk_schedules_portal_id_portals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedules")),
    )
    op.create_index(op.f("ix_schedules_portal_id"), "schedules", ["portal_id"])
    op.create_table(
        "corrections",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("portal_id", ID, nullable=False),
        sa.Column("employee_id", ID, nullable=False),
        sa.Column("requested_at", TIMESTAMP, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target_mark_id", ID, nullable=True),
        sa.Column("claimed_at", TIMESTAMP, nullable=False),
        sa.Column("reason", sa.Text(), server_default="", nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["employees.id"], name=op.f("fk_corrections_employee_id_employees")
        ),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portals.id"],
            name=op.f("fk_corrections_portal_id_portals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_corrections")),
        # SQLite accepts a reference to a table created later (and cannot add one afterwards).
        *([_corrections_target_mark_fk()] if _is_sqlite() else []),
    )
    op.create_index(op.f("ix_corrections_employee_id"), "corrections", ["employee_id"])
    op.create_index(
        op.f("ix_corrections_portal_id_requested_at"), "corrections", ["portal_id", "requested_at"]
    )
    op.create_index(op.f("ix_corrections_target_mark_id"), "corrections", ["target_mark_id"])
    op.create_table(
        "employee_offices",
        sa.Column("employee_id", ID, nullable=False),
        sa.Column("office_id", ID, nullable=False),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employees.id"],
            name=op.f("fk_employee_offices_employee_id_employees"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["office_id"],
            ["offices.id"],
            name=op.f("fk_employee_offices_office_id_offices"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("employee_id", "office_id", name=op.f("pk_employee_offices")),
    )
    op.create_index(op.f("ix_employee_offices_office_id"), "employee_offices", ["office_id"])
    op.create_table(
        "explanations",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("portal_id", ID, nullable=False),
        sa.Column("employee_id", ID, nullable=False),
        sa.Column("local_date", sa.Date(), nullable=False),
        sa.Column("violation_kind", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("requested_at", TIMESTAMP, nullable=False),
        sa.Column("answered_at", TIMESTAMP, nullable=True),
        sa.Column("status", sa.String(length=16), server_default="requested", nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["employees.id"], name=op.f("fk_explanations_employee_id_employees")
        ),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portals.id"],
            name=op.f("fk_explanations_portal_id_portals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_explanations")),
        sa.UniqueConstraint(
            "employee_id",
            "local_date",
            "violation_kind",
            name=op.f("uq_explanations_employee_id_local_date_violation_kind"),
        ),
    )
    op.create_index(
        op.f("ix_explanations_portal_id_status"), "explanations", ["portal_id", "status"]
    )
    op.create_table(
        "link_tokens",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("jti", sa.String(length=64), nullable=False),
        sa.Column("portal_id", ID, nullable=False),
        sa.Column("employee_id", ID, nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("expires_at", TIMESTAMP, nullable=False),
        sa.Column("used_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employees.id"],
            name=op.f("fk_link_tokens_employee_id_employees"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portals.id"],
            name=op.f("fk_link_tokens_portal_id_portals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_link_tokens")),
        sa.UniqueConstraint("jti", name=op.f("uq_link_tokens_jti")),
    )
    op.create_index(op.f("ix_link_tokens_employee_id"), "link_tokens", ["employee_id"])
    op.create_index(op.f("ix_link_tokens_portal_id"), "link_tokens", ["portal_id"])
    op.create_table(
        "schedule_assignments",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("portal_id", ID, nullable=False),
        sa.Column("schedule_id", ID, nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=True),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portals.id"],
            name=op.f("fk_schedule_assignments_portal_id_portals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_schedule_assignments_schedule_id_schedules"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedule_assignments")),
    )
    op.create_index(
        op.f("ix_schedule_assignments_portal_id_scope_target_id_valid_from"),
        "schedule_assignments",
        ["portal_id", "scope", "target_id", "valid_from"],
    )
    op.create_index(
        op.f("ix_schedule_assignments_schedule_id"), "schedule_assignments", ["schedule_id"]
    )
    op.create_table(
        "shifts",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("portal_id", ID, nullable=False),
        sa.Column("employee_id", ID, nullable=False),
        sa.Column("starts_at", TIMESTAMP, nullable=False),
        sa.Column("ends_at", TIMESTAMP, nullable=False),
        sa.Column("schedule_id", ID, nullable=True),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint("ends_at > starts_at", name=op.f("ck_shifts_positive_length")),
        sa.ForeignKeyConstraint(
            ["employee_id"],
            ["employees.id"],
            name=op.f("fk_shifts_employee_id_employees"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portals.id"],
            name=op.f("fk_shifts_portal_id_portals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["schedule_id"],
            ["schedules.id"],
            name=op.f("fk_shifts_schedule_id_schedules"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shifts")),
    )
    op.create_index(op.f("ix_shifts_employee_id_starts_at"), "shifts", ["employee_id", "starts_at"])
    op.create_index(op.f("ix_shifts_portal_id"), "shifts", ["portal_id"])
    op.create_index(op.f("ix_shifts_schedule_id"), "shifts", ["schedule_id"])
    op.create_table(
        "zones",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("portal_id", ID, nullable=False),
        sa.Column("office_id", ID, nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("radius_m", sa.Float(), nullable=True),
        sa.Column("polygon", JSON, nullable=True),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.CheckConstraint(
            "(kind = 'circle' AND lat IS NOT NULL AND lon IS NOT NULL"
            " AND radius_m IS NOT NULL AND radius_m > 0)"
            " OR (kind = 'polygon' AND polygon IS NOT NULL)",
            name=op.f("ck_zones_shape"),
        ),
        sa.ForeignKeyConstraint(
            ["office_id"],
            ["offices.id"],
            name=op.f("fk_zones_office_id_offices"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portals.id"],
            name=op.f("fk_zones_portal_id_portals"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_zones")),
    )
    op.create_index(op.f("ix_zones_office_id"), "zones", ["office_id"])
    op.create_index(op.f("ix_zones_portal_id"), "zones", ["portal_id"])
    op.create_table(
        "marks",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("portal_id", ID, nullable=False),
        sa.Column("employee_id", ID, nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("claimed_at", TIMESTAMP, nullable=True),
        sa.Column("recorded_at", TIMESTAMP, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("location_verdict", sa.String(length=16), nullable=True),
        sa.Column("zone_id", ID, nullable=True),
        sa.Column("distance_m", sa.Float(), nullable=True),
        sa.Column("flags", JSON, nullable=False),
        sa.Column("provisional", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("supersedes_mark_id", ID, nullable=True),
        sa.Column("correction_id", ID, nullable=True),
        sa.Column("idempotency_key", sa.String(length=128), nullable=True),
        sa.CheckConstraint(
            "kind IN ('check_in', 'break_start', 'break_end', 'check_out')",
            name=op.f("ck_marks_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["correction_id"], ["corrections.id"], name=op.f("fk_marks_correction_id_corrections")
        ),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["employees.id"], name=op.f("fk_marks_employee_id_employees")
        ),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portals.id"],
            name=op.f("fk_marks_portal_id_portals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_mark_id"], ["marks.id"], name=op.f("fk_marks_supersedes_mark_id_marks")
        ),
        sa.ForeignKeyConstraint(["zone_id"], ["zones.id"], name=op.f("fk_marks_zone_id_zones")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_marks")),
        sa.UniqueConstraint(
            "portal_id", "idempotency_key", name=op.f("uq_marks_portal_id_idempotency_key")
        ),
    )
    op.create_index(op.f("ix_marks_correction_id"), "marks", ["correction_id"])
    op.create_index(op.f("ix_marks_employee_id"), "marks", ["employee_id"])
    op.create_index(
        op.f("ix_marks_portal_id_employee_id_at"), "marks", ["portal_id", "employee_id", "at"]
    )
    op.create_index(op.f("ix_marks_supersedes_mark_id"), "marks", ["supersedes_mark_id"])
    op.create_index(op.f("ix_marks_zone_id"), "marks", ["zone_id"])
    if not _is_sqlite():
        # marks and corrections reference each other; the second edge goes in once both exist.
        op.create_foreign_key(
            op.f("fk_corrections_target_mark_id_marks"),
            "corrections",
            "marks",
            ["target_mark_id"],
            ["id"],
        )

    op.create_table(
        "correction_decisions",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("portal_id", ID, nullable=False),
        sa.Column("correction_id", ID, nullable=False),
        sa.Column("decision", sa.String(length=16), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=False),
        sa.Column("decided_at", TIMESTAMP, nullable=False),
        sa.Column("comment", sa.Text(), server_default="", nullable=False),
        sa.Column("resulting_mark_id", ID, nullable=True),
        sa.CheckConstraint(
            "decision IN ('approved', 'rejected')", name=op.f("ck_correction_decisions_decision")
        ),
        sa.ForeignKeyConstraint(
            ["correction_id"],
            ["corrections.id"],
            name=op.f("fk_correction_decisions_correction_id_corrections"),
        ),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portals.id"],
            name=op.f("fk_correction_decisions_portal_id_portals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["resulting_mark_id"],
            ["marks.id"],
            name=op.f("fk_correction_decisions_resulting_mark_id_marks"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_correction_decisions")),
        sa.UniqueConstraint("correction_id", name=op.f("uq_correction_decisions_correction_id")),
    )
    op.create_index(
        op.f("ix_correction_decisions_portal_id"), "correction_decisions", ["portal_id"]
    )
    op.create_index(
        op.f("ix_correction_decisions_resulting_mark_id"),
        "correction_decisions",
        ["resulting_mark_id"],
    )
    op.create_table(
        "location_fixes",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("portal_id", ID, nullable=False),
        sa.Column("employee_id", ID, nullable=False),
        sa.Column("mark_id", ID, nullable=True),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("accuracy_m", sa.Float(), nullable=True),
        sa.Column("device_time", TIMESTAMP, nullable=True),
        sa.Column("ip", sa.String(length=45), nullable=True),
        sa.Column("verdict", sa.String(length=16), nullable=False),
        sa.Column("zone_id", ID, nullable=True),
        sa.Column("distance_m", sa.Float(), nullable=True),
        sa.Column("flags", JSON, nullable=False),
        sa.Column("erased_at", TIMESTAMP, nullable=True),
        sa.ForeignKeyConstraint(
            ["employee_id"], ["employees.id"], name=op.f("fk_location_fixes_employee_id_employees")
        ),
        sa.ForeignKeyConstraint(
            ["mark_id"], ["marks.id"], name=op.f("fk_location_fixes_mark_id_marks")
        ),
        sa.ForeignKeyConstraint(
            ["portal_id"],
            ["portals.id"],
            name=op.f("fk_location_fixes_portal_id_portals"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["zone_id"], ["zones.id"], name=op.f("fk_location_fixes_zone_id_zones")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_location_fixes")),
    )
    op.create_index(
        op.f("ix_location_fixes_employee_id_at"), "location_fixes", ["employee_id", "at"]
    )
    op.create_index(op.f("ix_location_fixes_mark_id"), "location_fixes", ["mark_id"])
    op.create_index(op.f("ix_location_fixes_portal_id_at"), "location_fixes", ["portal_id", "at"])
    op.create_index(op.f("ix_location_fixes_zone_id"), "location_fixes", ["zone_id"])


def downgrade() -> None:
    if not _is_sqlite():
        op.drop_constraint(
            op.f("fk_corrections_target_mark_id_marks"), "corrections", type_="foreignkey"
        )
    for table in TABLES:
        op.drop_table(table)
