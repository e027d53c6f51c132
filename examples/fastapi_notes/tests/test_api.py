from notes.models import AuditEntry, User


async def test_create_user(client):
    response = await client.post("/users", json={"email": "ada@example.com"})
    assert response.status_code == 201
    assert await User.filter(email="ada@example.com").exists()
    # The background task ran after the response, inside the test's isolation too.
    assert await AuditEntry.filter(message="created ada@example.com").count() == 1


async def test_the_previous_test_left_nothing(client):
    assert (await client.get("/users/1")).status_code == 404
    assert await User.all().count() == 0
    assert await AuditEntry.all().count() == 0


async def test_duplicate_email_is_422(client):
    await client.post("/users", json={"email": "dup@example.com"})
    response = await client.post("/users", json={"email": "dup@example.com"})
    assert response.status_code == 422
    assert await User.all().count() == 1  # the test's transaction is still usable


async def test_one_request_one_query(client, yara_db, user):
    with yara_db.assert_num_queries(1):
        response = await client.get(f"/users/{user.id}")
    assert response.json()["email"] == user.email


async def test_listing_notes_is_not_an_n_plus_one(client, yara_db, note_factory):
    await note_factory.create_batch(5)
    with yara_db.assert_no_nplusone(), yara_db.assert_num_queries(1):
        response = await client.get("/notes")
    assert len(response.json()) == 5
