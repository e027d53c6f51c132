import factory
import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient
from notes.app import app
from notes.models import Note, User

from yara_testing import ModelFactory, register


class UserFactory(ModelFactory):
    class Meta:
        model = User

    email = factory.Sequence(lambda n: f"user{n}@example.com")


class NoteFactory(ModelFactory):
    class Meta:
        model = Note

    title = factory.Faker("sentence")
    owner = factory.SubFactory(UserFactory)


register(UserFactory)
register(NoteFactory)


@pytest.fixture
async def client(yara_db):
    # The lifespan runs the app's own YaraOrm.init: the plugin binds it to the test database.
    async with LifespanManager(app) as manager:
        transport = ASGITransport(app=manager.app)
        async with AsyncClient(transport=transport, base_url="http://test") as client:
            yield client
