"""The reference of the HTTP write path: a bare FastAPI + SQLAlchemy endpoint that does one insert.

    python bench/bare_app.py --url postgresql+psycopg://… --port 8123

`POST /ncs` with the same body as SupplyTrace's validates it with pydantic, inserts one row into a table
of its own (bare_ncs) in one transaction and answers 201 with the row's id. No authentication, no
outbox: what any FastAPI + SQLAlchemy service pays per write on this machine. Served by uvicorn in one
process, as `supplytrace serve` is; a sync route (FastAPI's thread pool) with a pool of 40 connections.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Literal

import sqlalchemy as sa
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel, Field

metadata = sa.MetaData()
bare_ncs = sa.Table(
    "bare_ncs", metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("supplier_id", sa.Integer, nullable=False),
    sa.Column("severity", sa.String(10), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("status", sa.String(10), nullable=False),
    sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
)


class NcIn(BaseModel):
    supplier_id: int = Field(ge=1)
    severity: Literal["low", "medium", "high"]
    description: str = Field(min_length=1, max_length=2000)


def create_app(url: str) -> FastAPI:
    engine = sa.create_engine(url, pool_size=40, max_overflow=10, pool_pre_ping=True)
    metadata.create_all(engine)
    app = FastAPI()

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/ncs", status_code=201)
    def create(body: NcIn) -> dict[str, object]:
        with engine.begin() as conn:
            new_id = conn.execute(sa.insert(bare_ncs).values(
                supplier_id=body.supplier_id, severity=body.severity, description=body.description, status="OPEN",
                opened_at=datetime.now(UTC)).returning(bare_ncs.c.id)).scalar_one()
        return {"id": new_id, "supplier_id": body.supplier_id, "severity": body.severity, "status": "OPEN"}

    return app


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(create_app(args.url), host="127.0.0.1", port=args.port, log_config=None, access_log=False,
                server_header=False)


if __name__ == "__main__":
    main()
