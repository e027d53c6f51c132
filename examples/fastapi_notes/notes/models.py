from yara_orm import Model, fields


class User(Model):
    email = fields.CharField(max_length=100, unique=True)


class Note(Model):
    title = fields.CharField(max_length=200)
    owner = fields.ForeignKeyField("models.User", related_name="notes")


class AuditEntry(Model):
    message = fields.CharField(max_length=200)
