"""Relations: forward and reverse foreign keys, one-to-one, many-to-many, select_related,
prefetch_related and fetch_related."""

from __future__ import annotations

import pytest

from tests.orm.models import Author, Book, Note, Profile, Tag
from yara_orm import (
    Count,
    FieldError,
    IntegrityError,
    OperationalError,
    ParamsError,
    Prefetch,
    RelationNotLoaded,
    RelationTypeError,
    ValidationError,
    fields,
)


@pytest.fixture
async def library(orm: str) -> dict[str, object]:
    ada = await Author.create(name="Ada")
    grace = await Author.create(name="Grace")
    classic = await Tag.create(name="classic")
    modern = await Tag.create(name="modern")
    notes = await Book.create(title="Notes", author=ada)
    sketch = await Book.create(title="Sketch", author=ada)
    cobol = await Book.create(title="COBOL", author=grace)
    await notes.tags.add(classic, modern)
    await cobol.tags.add(modern)
    await Profile.create(author=ada, bio="Countess")
    return {"ada": ada, "grace": grace, "notes": notes, "sketch": sketch, "cobol": cobol}


async def test_forward_relation_must_be_awaited(library: dict[str, object]) -> None:
    book = await Book.get(title="Notes")
    with pytest.raises(RelationNotLoaded) as info:
        _ = book.author.name
    message = str(info.value)
    assert "Book.author" in message and "await obj.author" in message
    assert "select_related('author')" in message and "prefetch_related('author')" in message
    author = await book.author
    assert author.name == "Ada"
    assert book.author is author  # cached once loaded
    assert book.author_id == author.id


async def test_assigning_a_relation_sets_its_key(library: dict[str, object]) -> None:
    book = await Book.get(title="COBOL")
    book.author = library["ada"]
    await book.save()
    assert (await Book.get(title="COBOL")).author_id == library["ada"].pk  # type: ignore[attr-defined]


async def test_reverse_relation(library: dict[str, object]) -> None:
    ada = await Author.get(name="Ada")
    with pytest.raises(RelationNotLoaded, match=r"Author\.books"):
        len(ada.books)
    assert sorted(b.title for b in await ada.books.all()) == ["Notes", "Sketch"]
    assert [b.title for b in await ada.books.filter(title__startswith="N")] == ["Notes"]
    assert await ada.books.count() == 2
    titles = [book.title async for book in ada.books]
    assert sorted(titles) == ["Notes", "Sketch"]
    assert len(ada.books) == 2  # loaded by the iteration
    created = await ada.books.create(title="Third")
    assert created.author_id == ada.id


async def test_one_to_one_both_ways(library: dict[str, object]) -> None:
    profile = await Profile.get(bio="Countess")
    assert (await profile.author).name == "Ada"
    ada = await Author.get(name="Ada")
    assert (await ada.profile).bio == "Countess"
    grace = await Author.get(name="Grace")
    assert await grace.profile is None
    with pytest.raises(IntegrityError):
        await Profile.create(author=ada, bio="second profile")
    # A filtered pending relation gives the match or None, and is not kept as the relation.
    fresh = await Author.get(name="Ada")
    assert (await fresh.profile.filter(bio="Countess")).bio == "Countess"
    assert await fresh.profile.filter(bio="nobody") is None
    assert (await fresh.profile).bio == "Countess"


async def test_many_to_many(library: dict[str, object]) -> None:
    notes = await Book.get(title="Notes")
    assert sorted(t.name for t in await notes.tags.all()) == ["classic", "modern"]
    modern = await Tag.get(name="modern")
    assert sorted(b.title for b in await modern.books.all()) == ["COBOL", "Notes"]
    await notes.tags.remove(modern)
    assert [t.name for t in await notes.tags.all()] == ["classic"]
    await notes.tags.add(modern, modern)  # adding twice links once
    await notes.tags.add(modern)
    assert await notes.tags.count() == 2
    await modern.books.clear()
    assert [b.title for b in await modern.books.all()] == []
    assert await notes.tags.count() == 1
    with pytest.raises(OperationalError, match=r"remove\(\) called on no instances"):
        await notes.tags.remove()
    assert await notes.tags.count() == 1


async def test_select_related_joins(library: dict[str, object]) -> None:
    books = await Book.all().select_related("author").order_by("title")
    assert [(b.title, b.author.name) for b in books] == [
        ("COBOL", "Grace"),
        ("Notes", "Ada"),
        ("Sketch", "Ada"),
    ]
    profiles = await Profile.all().select_related("author")
    assert profiles[0].author.name == "Ada"


async def test_prefetch_related_nested_and_custom(library: dict[str, object]) -> None:
    authors = await Author.all().prefetch_related("books__tags", "profile")
    by_name = {a.name: a for a in authors}
    assert sorted(b.title for b in by_name["Ada"].books) == ["Notes", "Sketch"]
    notes = next(b for b in by_name["Ada"].books if b.title == "Notes")
    assert sorted(t.name for t in notes.tags) == ["classic", "modern"]
    assert by_name["Ada"].profile.bio == "Countess"
    assert by_name["Grace"].profile is None
    custom = await Author.all().prefetch_related(
        Prefetch("books", queryset=Book.filter(title__startswith="S"), to_attr="s_books")
    )
    ada = next(a for a in custom if a.name == "Ada")
    assert [b.title for b in ada.s_books] == ["Sketch"]
    books = await Book.all().prefetch_related("author")
    assert {b.author.name for b in books} == {"Ada", "Grace"}


async def test_fetch_for_list_loads_relations_onto_instances_already_fetched(
    library: dict[str, object],
) -> None:
    authors = await Author.all().order_by("name")
    await Author.fetch_for_list(authors, "books__tags", "profile")
    ada, grace = authors
    assert sorted(b.title for b in ada.books) == ["Notes", "Sketch"]
    assert [t.name for t in grace.books[0].tags] == ["modern"]
    assert ada.profile.bio == "Countess" and grace.profile is None
    with pytest.raises(ParamsError, match=r"Author.fetch_for_list\(\) takes Author instances"):
        await Author.fetch_for_list([*authors, library["notes"]], "books")
    with pytest.raises(FieldError):
        await Author.fetch_for_list(authors, "no_such_relation")


async def test_prefetch_many_to_many_with_an_annotated_or_filtered_queryset(
    library: dict[str, object],
) -> None:
    # The count covers every book of the tag, not only the book being prefetched for.
    (notes,) = await Book.filter(title="Notes").prefetch_related(
        Prefetch("tags", queryset=Tag.annotate(n=Count("books")).order_by("name"))
    )
    assert [(t.name, t.n) for t in notes.tags] == [("classic", 1), ("modern", 2)]
    # Two Prefetch of one relation fill two attributes.
    (notes,) = await Book.filter(title="Notes").prefetch_related(
        Prefetch("tags", queryset=Tag.filter(name="classic"), to_attr="old"),
        Prefetch("tags", queryset=Tag.filter(name="modern"), to_attr="new"),
    )
    assert ([t.name for t in notes.old], [t.name for t in notes.new]) == (["classic"], ["modern"])
    # The filter on the relation's own path is about the tag, not the link being loaded.
    books = (
        await Book.all()
        .order_by("title")
        .prefetch_related(
            Prefetch("tags", queryset=Tag.filter(books__title="COBOL"), to_attr="shared")
        )
    )
    assert [(b.title, [t.name for t in b.shared]) for b in books] == [
        ("COBOL", ["modern"]),
        ("Notes", ["modern"]),
        ("Sketch", []),
    ]


async def test_fetch_related_on_an_instance(library: dict[str, object]) -> None:
    book = await Book.get(title="Notes")
    await book.fetch_related("author", "tags")
    assert book.author.name == "Ada"
    assert len(book.tags) == 2


async def test_on_delete_behaviours(library: dict[str, object]) -> None:
    root = await Note.create(text="root")
    child = await Note.create(text="child", parent=root)
    await root.delete()
    assert (await Note.get(pk=child.pk)).parent_id is None  # SET NULL
    grace = await Author.get(name="Grace")
    await grace.delete()
    assert not await Book.filter(title="COBOL").exists()  # CASCADE


async def test_relations_of_an_unsaved_instance_are_refused(orm: str) -> None:
    # A pk set by hand (or by a UUID default) does not make the row exist.
    unsaved = Author(id=99, name="Nobody")
    with pytest.raises(OperationalError, match="hasn't been instanced"):
        await unsaved.books.all()
    with pytest.raises(OperationalError, match="hasn't been instanced"):
        await unsaved.books.create(title="Ghost")
    assert await Book.all().count() == 0


async def test_instances_hash_by_pk_and_update_from_dict_validates(orm: str) -> None:
    ada = await Author.create(name="Ada")
    assert hash(ada) == hash(ada.pk)
    assert len({ada, await Author.get(pk=ada.pk)}) == 1
    with pytest.raises(TypeError):
        hash(Author(name="unsaved"))
    with pytest.raises(ValidationError, match="born"):
        ada.update_from_dict({"born": "not a date"})
    assert ada.update_from_dict({"name": "Ada L."}).name == "Ada L."


async def test_relation_managers_are_the_annotated_types(library: dict[str, object]) -> None:
    ada = await Author.get(name="Ada")
    book = await Book.get(title="Notes")
    assert isinstance(ada.books, fields.ReverseRelation)
    assert isinstance(book.tags, fields.ManyToManyRelation)
    assert not isinstance(ada.books, fields.ManyToManyRelation)


async def test_prefetch_with_only_and_bad_names(library: dict[str, object]) -> None:
    (notes,) = await Book.filter(title="Notes").prefetch_related(
        Prefetch("tags", queryset=Tag.all().only("name"))
    )
    assert sorted(t.name for t in notes.tags) == ["classic", "modern"]
    ada = await Author.get(name="Ada").prefetch_related(
        Prefetch("books", queryset=Book.all().only("title"))
    )
    assert sorted(b.title for b in ada.books) == ["Notes", "Sketch"]
    books = await Book.all().prefetch_related(Prefetch("author", Author.all().only("name")))
    assert {b.author.name for b in books} == {"Ada", "Grace"}
    with pytest.raises(FieldError, match=r"Relation writer for models\.Book not found"):
        await Book.all().prefetch_related("writer")
    with pytest.raises(FieldError, match=r"Field title on models\.Book is not a relation"):
        await Book.all().prefetch_related("title")
    with pytest.raises(FieldError, match=r"Field author_id on models\.Book is not a relation"):
        await Book.all().prefetch_related("author_id")


async def test_an_object_of_the_wrong_model_for_a_relation(library: dict[str, object]) -> None:
    notes = await Book.get(title="Notes")
    with pytest.raises(RelationTypeError, match="Expected model type 'Author'") as in_filter:
        await Book.filter(author=notes)
    with pytest.raises(RelationTypeError, match="Expected model type 'Author'") as in_init:
        Book(title="x", author=notes)
    for raised in (in_filter, in_init):
        assert isinstance(raised.value, TypeError) and isinstance(raised.value, ValidationError)


async def test_linking_an_unsaved_object_is_refused_before_any_sql(
    library: dict[str, object],
) -> None:
    notes = await Book.get(title="Notes")
    unsaved = Tag(id=999, name="never saved")  # a pk, but no row
    with pytest.raises(OperationalError, match=r"You should first call \.save\(\)"):
        await notes.tags.add(unsaved)
    with pytest.raises(OperationalError, match=r"You should first call \.save\(\)"):
        await unsaved.books.add(notes)
    assert await notes.tags.count() == 2


async def test_prefetch_lookups_do_not_depend_on_their_order(library: dict[str, object]) -> None:
    pricey = Prefetch("books", queryset=Book.filter(title__in=["Notes", "COBOL"]), to_attr="pricey")
    for lookups in ((pricey, "books__tags"), ("books__tags", pricey)):
        (ada,) = await Author.filter(name="Ada").prefetch_related(*lookups)
        assert sorted(b.title for b in ada.books) == ["Notes", "Sketch"]
        assert [b.title for b in ada.pricey] == ["Notes"]
        notes = next(b for b in ada.books if b.title == "Notes")
        assert sorted(t.name for t in notes.tags) == ["classic", "modern"]
    # A deeper path may start with a to_attr: it extends that load.
    (ada,) = await Author.filter(name="Ada").prefetch_related(pricey, "pricey__tags")
    assert sorted(t.name for t in ada.pricey[0].tags) == ["classic", "modern"]
