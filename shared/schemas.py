"""Common request schemas (pydantic): pagination, filters, sorting."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

Operator = Literal["eq", "ne", "gt", "gte", "lt", "lte", "in", "nin", "like", "exists"]


class Pagination(BaseModel):
    """`?page=1&limit=20&cursor=...`: page >= 1, limit 1-100 (default 20)."""

    model_config = ConfigDict(extra="ignore")

    page: int = Field(default=1, ge=1, le=1_000_000)
    limit: int = Field(default=20, ge=1, le=100)
    cursor: str | None = Field(default=None, max_length=512)

    @property
    def offset(self) -> int:
        """Rows to skip for this page."""
        return (self.page - 1) * self.limit


class Filter(BaseModel):
    """One condition of a list query: `{"field": "status", "operator": "eq", "value": "open"}`.

    `field` is a plain (dotted) name, never an expression: safe to map onto a column allowlist.
    """

    model_config = ConfigDict(extra="forbid")

    field: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.]{0,63}$")
    operator: Operator = "eq"
    value: Any = None


class Sort(BaseModel):
    """`{"field": "created_at", "direction": "desc"}`."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
    direction: Literal["asc", "desc"] = "asc"
