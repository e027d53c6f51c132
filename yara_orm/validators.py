"""Validators for a field's `validators=[...]`: callables that raise `ValidationError` when a
value is not acceptable. They run on every value given to the field, before any SQL."""

from __future__ import annotations

import abc
import ipaddress
import re
import unicodedata
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from yara_orm.exceptions import ValidationError

__all__ = [
    "CommaSeparatedIntegerListValidator",
    "DomainNameValidator",
    "EmailValidator",
    "InvalidDomainName",
    "InvalidEmailAddress",
    "InvalidScheme",
    "InvalidURL",
    "MaxLengthValidator",
    "MaxValueValidator",
    "MinLengthValidator",
    "MinValueValidator",
    "NumericValidator",
    "RegexValidator",
    "URLValidator",
    "Validator",
    "validate_domain_name",
    "validate_email",
    "validate_ipv4_address",
    "validate_ipv6_address",
    "validate_ipv46_address",
    "validate_url",
]


class Validator(abc.ABC):
    @abc.abstractmethod
    def __call__(self, value: Any) -> None:
        """Raise `ValidationError` when `value` is not acceptable."""


class RegexValidator(Validator):
    def __init__(self, pattern: str, flags: int | re.RegexFlag = 0) -> None:
        self.regex = re.compile(pattern, flags)

    def __call__(self, value: Any) -> None:
        if not isinstance(value, str) or not self.regex.match(value):
            raise ValidationError(f"Value '{value}' does not match regex '{self.regex.pattern}'")


class MaxLengthValidator(Validator):
    def __init__(self, max_length: int) -> None:
        self.max_length = max_length

    def __call__(self, value: Any) -> None:
        if value is None:
            raise ValidationError("Value must not be None")
        if len(value) > self.max_length:
            raise ValidationError(f"Length of '{value}' {len(value)} > {self.max_length}")


class MinLengthValidator(Validator):
    def __init__(self, min_length: int) -> None:
        self.min_length = min_length

    def __call__(self, value: Any) -> None:
        if value is None:
            raise ValidationError("Value must not be None")
        if len(value) < self.min_length:
            raise ValidationError(f"Length of '{value}' {len(value)} < {self.min_length}")


class NumericValidator(Validator):
    NUMBERS = (int, float, Decimal)

    @classmethod
    def _number(cls, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, cls.NUMBERS):
            raise ValidationError("Value must be a numeric value and is required")
        return value


class MinValueValidator(NumericValidator):
    def __init__(self, min_value: int | float | Decimal) -> None:
        self.min_value = self._number(min_value)

    def __call__(self, value: Any) -> None:
        if self._number(value) < self.min_value:
            raise ValidationError(f"Value should be greater or equal to {self.min_value}")


class MaxValueValidator(NumericValidator):
    def __init__(self, max_value: int | float | Decimal) -> None:
        self.max_value = self._number(max_value)

    def __call__(self, value: Any) -> None:
        if self._number(value) > self.max_value:
            raise ValidationError(f"Value should be less or equal to {self.max_value}")


class CommaSeparatedIntegerListValidator(Validator):
    """`1,2,3` (and `-1,2` with `allow_negative`)."""

    def __init__(self, allow_negative: bool = False) -> None:
        number = r"-?\d+" if allow_negative else r"\d+"
        self.regex = RegexValidator(rf"^{number}(?:,{number})*\Z")

    def __call__(self, value: Any) -> None:
        self.regex(value)


def validate_ipv4_address(value: Any) -> None:
    try:
        ipaddress.IPv4Address(value)
    except ValueError as error:
        raise ValidationError(f"'{value}' is not a valid IPv4 address.") from error


def validate_ipv6_address(value: Any) -> None:
    try:
        ipaddress.IPv6Address(value)
    except ValueError as error:
        raise ValidationError(f"'{value}' is not a valid IPv6 address.") from error


def validate_ipv46_address(value: Any) -> None:
    try:
        ipaddress.ip_address(value)
    except ValueError as error:
        raise ValidationError(f"'{value}' is not a valid IPv4 or IPv6 address.") from error


# Domains, URLs and e-mail addresses ---------------------------------------------------------


class InvalidDomainName(ValidationError):
    def __init__(self, message: str = "Enter a valid domain name.") -> None:
        super().__init__(message)


class InvalidURL(ValidationError):
    def __init__(self, message: str = "Enter a valid URL.") -> None:
        super().__init__(message)


class InvalidScheme(InvalidURL):
    def __init__(self, message: str = "URL scheme is not allowed.") -> None:
        super().__init__(message)


class InvalidEmailAddress(ValidationError):
    def __init__(self, message: str = "Enter a valid email address.") -> None:
        super().__init__(message)


_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_ASCII_DOMAIN = re.compile(rf"^(?:{_LABEL}\.)+(?!-)[a-z-]{{2,63}}(?<!-)\.?$", re.IGNORECASE)


def _to_ascii(domain: str) -> str | None:
    try:
        return domain.encode("idna").decode("ascii")
    except UnicodeError:
        return None


def _idna_character(character: str) -> bool:
    return character in ".-" or unicodedata.category(character)[0] in "LMN"


class DomainNameValidator(Validator):
    """A public domain name (`example.com`); internationalised names when `accept_idna`."""

    def __init__(self, accept_idna: bool = True) -> None:
        self.accept_idna = accept_idna

    def is_valid(self, value: Any) -> bool:
        if not isinstance(value, str) or not value or len(value) > 255:
            return False
        if not value.isascii():
            # IDNA 2008 allows letters, marks and digits; Python's idna codec (IDNA 2003)
            # would also take symbols such as emoji.
            if not self.accept_idna or not all(_idna_character(c) for c in value):
                return False
            converted = _to_ascii(value)
            if converted is None:
                return False
            value = converted
        return bool(_ASCII_DOMAIN.match(value))

    def __call__(self, value: Any) -> None:
        if not self.is_valid(value):
            raise InvalidDomainName(f"'{value}' is not a valid domain name.")


validate_domain_name = DomainNameValidator()


class URLValidator(Validator):
    """An absolute URL whose scheme is allowed and whose host is a domain, `localhost` or an
    IP address."""

    MAX_LENGTH = 2048

    def __init__(self, allowed_schemes: list[str] | None = None) -> None:
        self.allowed_schemes = [
            s.lower() for s in allowed_schemes or ["http", "https", "ftp", "ftps"]
        ]

    def __call__(self, value: Any) -> None:
        if not isinstance(value, str) or len(value) > self.MAX_LENGTH or " " in value:
            raise InvalidURL()
        try:
            parts = urlsplit(value)
            host = parts.hostname
            parts.port  # noqa: B018 (parses the port; a bad one raises)
        except ValueError:
            raise InvalidURL() from None
        if not parts.scheme or not parts.netloc or not host:
            raise InvalidURL()
        if parts.scheme.lower() not in self.allowed_schemes:
            raise InvalidScheme(f"URL scheme '{parts.scheme}' is not allowed.")
        if host == "localhost":
            return
        try:
            ipaddress.ip_address(host)
            return
        except ValueError:
            pass
        if not validate_domain_name.is_valid(host):
            raise InvalidURL()


validate_url = URLValidator()


class EmailValidator(Validator):
    """`local@domain`; with `allowed_domains`, the domain must be one of them (which may then
    be any name, `localhost` included)."""

    _LOCAL = re.compile(
        r"^[-!#$%&'*+/=?^_`{}|~0-9a-z]+(?:\.[-!#$%&'*+/=?^_`{}|~0-9a-z]+)*$", re.IGNORECASE
    )
    _QUOTED = re.compile(r'^"(?:[^"\\]|\\.)*"$')

    def __init__(self, allowed_domains: list[str] | None = None) -> None:
        self.allowed_domains = [d.lower() for d in allowed_domains or []]

    def __call__(self, value: Any) -> None:
        if not isinstance(value, str) or "@" not in value or len(value) > 320:
            raise InvalidEmailAddress()
        local, _, domain = value.rpartition("@")
        if not local or not domain or len(local) > 64:
            raise InvalidEmailAddress()
        if not (self._LOCAL.match(local) or self._QUOTED.match(local)):
            raise InvalidEmailAddress()
        if self.allowed_domains:
            if domain.lower() not in self.allowed_domains:
                raise InvalidEmailAddress()
            return
        if domain.startswith("[") and domain.endswith("]"):
            try:
                ipaddress.ip_address(domain[1:-1].removeprefix("IPv6:"))
                return
            except ValueError:
                raise InvalidEmailAddress() from None
        if not validate_domain_name.is_valid(domain):
            raise InvalidEmailAddress()


validate_email = EmailValidator()
