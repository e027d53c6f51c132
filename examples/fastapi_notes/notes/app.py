"""A small FastAPI app that initialises the ORM itself, in its lifespan, on its own database."""

import os
from contextlib import asynccontextmanager

from fastapi import BackgroundTasks, FastAPI
from pydantic import BaseModel

from notes.models import AuditEntry, Note, User
from yara_orm.contrib.fastapi import RegisterYara

DATABASE_URL = os.environ.get("NOTES_DATABASE_URL", "sqlite:///notes.db")


@asynccontextmanager
async def lifespan(app: FastAPI):
    async with RegisterYara(
        app,
        db_url=DATABASE_URL,
        modules={"models": ["notes.models"]},
        generate_schemas=True,
        add_exception_handlers=True,  # DoesNotExist -> 404, IntegrityError -> 422
    ):
        yield


app = FastAPI(lifespan=lifespan)


class UserIn(BaseModel):
    email: str


async def audit(message: str) -> None:
    await AuditEntry.create(message=message)


@app.post("/users", status_code=201)
async def create_user(body: UserIn, background: BackgroundTasks) -> dict[str, object]:
    user = await User.create(email=body.email)
    background.add_task(audit, f"created {user.email}")
    return {"id": user.id, "email": user.email}


@app.get("/users/{user_id}")
async def get_user(user_id: int) -> dict[str, object]:
    user = await User.get(id=user_id)
    return {"id": user.id, "email": user.email}


@app.get("/notes")
async def list_notes() -> list[dict[str, object]]:
    notes = await Note.all().select_related("owner")
    return [{"title": n.title, "owner": n.owner.email} for n in notes]
